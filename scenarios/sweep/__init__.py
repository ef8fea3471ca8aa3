"""Sweeps on Dask: one runner for every grid (fee designs, scenarios, calibration, hyperparameters).

A TOML spec (:mod:`scenarios.sweep.spec`) names a job (:mod:`scenarios.sweep.jobs`), the parameters it sweeps and
how (:mod:`scenarios.sweep.design`: grid, Latin hypercube or Sobol), paths per point and the metrics to keep.
:mod:`scenarios.sweep.runner` schedules the points in batches of about a second of work on a Dask cluster (a
local one of processes by default, or any scheduler by address) and streams each point's result into its own
region of one zarr store (:mod:`scenarios.sweep.store`) as it finishes, so a sweep is deterministic, resumable and
never gathered whole. :mod:`scenarios.sweep.cluster` sets up the workers and offers an in-memory ``map`` on them
(the agent-market calibration and the forecasting grid use it). See ``docs/sweeps.md``.
"""

from scenarios.sweep.runner import Plan, SweepResult, plan_from_spec, run_plan, run_sweep_spec

__all__ = ["Plan", "SweepResult", "plan_from_spec", "run_plan", "run_sweep_spec"]
