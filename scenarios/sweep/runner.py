"""The sweep runner: a plan of points -> Dask tasks of about a second of work -> one zarr store, as results arrive.

:func:`run_plan` runs a :class:`Plan` (built from a TOML spec by :func:`plan_from_spec`, or by a library module such
as :mod:`scenarios.amm.sweep`): it connects to a scheduler (:mod:`scenarios.sweep.cluster`: a ``LocalCluster`` of
processes by default), starts with a pilot task of two points per worker (the first point that succeeds gives the
store's layout, the second point of a task its warm time per point), then keeps two tasks of at least
``task_seconds`` of work per worker in flight and writes every point to its own region as its task finishes
(``as_completed``: nothing is gathered whole). Nothing waits for the pilot as a whole: the next tasks go out as each
pilot task returns, and the store is created while they run. A point whose job raises becomes a failed row holding
its error sentence and the sweep goes on; ``--resume`` skips the points already done.
"""

from __future__ import annotations

import hashlib
import json
import math
import resource
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.sweep.cluster import batch_size, connect, sentence
from scenarios.sweep.design import Design, build_design, point_seeds
from scenarios.sweep.jobs import check_parameters, resolve_job
from scenarios.sweep.spec import load_sweep_spec
from scenarios.sweep.store import DONE, FAILED, RESERVED, SweepStore, chunk_points, fill_value, schema_of
from simlab.errors import ParameterError, StoreError
from simlab.provenance import provenance

COUNTS_EVERY_S = 2.0
FLUSH_EVERY_S = 2.0  # finished points are written at most this long (or a task's seconds, if shorter) after arriving
FLUSH_BYTES = 1 << 26  # ... or as soon as they hold this many bytes
Outcome = tuple[int, str, Any, float]  # (point index, "done" or "failed", outputs or error sentence, seconds)


@dataclass(frozen=True)
class Plan:
    """Everything a sweep runs: the job, its points in design order with their seeds, and the scheduling knobs.

    Attributes
    ----------
    name, job
        The sweep's name and its job (a registered name or a dotted path, resolved in each worker).
    design
        The points and the store's design dimensions.
    seeds
        One SeedSequence per point, in design order.
    fixed
        Parameters passed to every point unchanged.
    paths
        Paths per point.
    metrics
        The job's outputs to keep (None: all).
    retries, allowed_failures, task_seconds
        Runs of a raising point before it fails, Dask's allowed worker deaths per task, and the minimum work per
        task (s).
    seed, config
        The root seed and the spec text (provenance).
    """

    name: str
    job: str
    design: Design
    seeds: list[np.random.SeedSequence]
    fixed: dict[str, Any]
    paths: int
    metrics: tuple[str, ...] | None
    retries: int
    allowed_failures: int
    task_seconds: float
    seed: int
    config: str

    def keys(self) -> list[str]:
        """Return every point's key: the hash of its job, parameters (swept and fixed), seed, paths and metrics."""
        common = json.dumps([self.job, self.fixed, self.paths, self.metrics], sort_keys=True, default=str)
        return [
            _digest(common, json.dumps(point, sort_keys=True, default=str), seed.entropy, seed.spawn_key)
            for point, seed in zip(self.design.points, self.seeds, strict=True)
        ]

    def fingerprint(self, keys: list[str] | None = None) -> str:
        """Return the hash of every key in order (``keys``, if already computed) and of the design dimensions."""
        return _digest(*(self.keys() if keys is None else keys), *self.design.dims)


@dataclass(frozen=True)
class SweepResult:
    """What a sweep left: its store, the counts of points, and how it was scheduled: workers, the median points per
    task, tasks, the pilot point's seconds, and the seconds to connect (start the cluster), to run every point (pilot
    to last write) and in all (closing a local cluster included); ``points_s`` sums the seconds the job itself took
    on the workers (its share of ``workers * run_s`` is the workers' utilisation), ``write_s`` the seconds the
    client spent creating the store and writing points to it, in ``writes`` writes. Over the run, ``client_cpu_s``
    is the CPU seconds of this process (the client, and for a local cluster the scheduler and the nannies) and
    ``workers_cpu_s`` those of the worker processes that ran from its start to its end (a worker started or lost
    meanwhile is not counted)."""

    store: Path
    done: int
    failed: int
    pending: int
    workers: int
    batch_points: int
    tasks: int
    pilot_point_s: float
    connect_s: float
    run_s: float
    points_s: float
    write_s: float
    writes: int
    wall_s: float
    client_cpu_s: float
    workers_cpu_s: float


def plan_from_spec(path: str | Path) -> Plan:
    """Read a sweep spec (a TOML file or a name of ``scenarios/library/``) and check its job's parameters."""
    spec, text = load_sweep_spec(path)
    design = build_design(spec)
    function = resolve_job(spec.sweep.job)
    values = {name: [point[name] for point in design.points] for name in spec.swept()}
    check_parameters(spec.sweep.job, function, values | {k: [v] for k, v in spec.fixed().items()})
    return Plan(name=spec.sweep.name, job=spec.sweep.job, design=design,
                seeds=point_seeds(spec.sweep.seed, len(design.points)), fixed=spec.fixed(), paths=spec.sweep.paths,
                metrics=None if spec.sweep.metrics is None else tuple(spec.sweep.metrics), retries=spec.sweep.retries,
                allowed_failures=spec.sweep.allowed_failures, task_seconds=spec.sweep.task_seconds,
                seed=spec.sweep.seed, config=text)  # fmt: skip


def run_sweep_spec(path: str | Path, output: str | Path, **options: Any) -> SweepResult:
    """Run the sweep spec at ``path`` into the store ``output`` (options: see :func:`run_plan`)."""
    return run_plan(plan_from_spec(path), output, **options)


def run_plan(
    plan: Plan,
    output: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    connect_timeout_s: float = 10.0,
) -> SweepResult:
    """Run every point of ``plan`` on Dask and write it to the zarr store ``output`` as it finishes.

    Parameters
    ----------
    plan
        The points, their seeds and the job.
    output
        The store (a directory, conventionally ``*.zarr``).
    workers
        Worker processes of the local cluster (default: one per CPU core); ignored with ``scheduler``.
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:PORT``) instead of a local cluster.
    resume
        Continue the store ``output`` (written from the same plan): points already done are not run again.
    overwrite
        Replace an existing store (without ``resume``).
    progress
        Show a progress bar.
    connect_timeout_s
        How long to wait for ``scheduler`` and its first worker (s).
    """
    output = Path(output)
    started = time.perf_counter()
    _import_writers()
    store, statuses = _open_target(plan, output, resume, overwrite)
    pending = [int(i) for i in np.flatnonzero(statuses != DONE)]
    with connect(workers, scheduler, connect_timeout_s) as (client, n_workers):
        _set_allowed_failures(client, plan.allowed_failures)
        client.run(_import_job, plan.job)  # every worker imports the job's modules before the clock of the run
        connected, client_cpu, workers_cpu = time.perf_counter(), time.process_time(), _workers_cpu(client)
        run = _Run(plan, client, output, store, statuses, progress, overwrite)
        try:
            with run.bar():
                sizes = run.stream(pending, n_workers)
        finally:  # whatever stops the run, the points received are written and the counts are those on disk
            if run.store is not None:
                run.flush()
                run.store.update_counts(run.statuses)
        finished, client_cpu = time.perf_counter(), time.process_time() - client_cpu
        workers_cpu = _cpu_since(workers_cpu, _workers_cpu(client))
    batch = int(np.median(sizes)) if sizes else 1
    timing = {"workers": n_workers, "batch_points": batch, "tasks": len(sizes) + run.pilot_tasks,
              "pilot_point_s": run.pilot_point_s, "connect_s": connected - started, "run_s": finished - connected,
              "points_s": run.points_s, "write_s": run.write_s, "writes": run.writes, "client_cpu_s": client_cpu,
              "workers_cpu_s": workers_cpu}  # fmt: skip
    timing["wall_s"] = time.perf_counter() - started
    counts = run.store.update_counts(run.statuses, timing)
    return SweepResult(store=output, **timing, **counts)


def _open_target(plan: Plan, output: Path, resume: bool, overwrite: bool) -> tuple[SweepStore | None, np.ndarray]:
    n = len(plan.design.points)
    if resume:
        store = SweepStore.open_for_resume(output)
        store.check_fingerprint(plan.fingerprint(), f"sweep {plan.name!r}")
        store.discard_partial_writes()  # a killed sweep's unfinished chunk writes (the chunks hold what was written)
        return store, store.statuses()
    if output.exists() and not overwrite:
        raise StoreError(f"store {output} already exists; pass --resume to continue it or choose another path")
    return None, np.zeros(n, dtype=np.int8)


class _Run:
    """One run's state: the client, the store (created once a point has succeeded), the statuses, the time per point
    and the progress bar."""

    def __init__(self, plan, client, output, store, statuses, progress, overwrite=False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.plan, self.client, self.output, self.store, self.overwrite = plan, client, output, store, overwrite
        self.statuses = statuses.copy()
        self.schema = None if store is None else store.info["variables"]
        self.progress = Progress(TextColumn(f"sweep {plan.name}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(),
                                 refresh_per_second=2, disable=not progress)  # fmt: skip
        self.task = self.progress.add_task("points", total=len(statuses), completed=int((statuses == DONE).sum()),
                                           failed=0)  # fmt: skip
        self._counted = time.monotonic()
        self.points_s, self.write_s, self.pilot_tasks, self.pilot_point_s = 0.0, 0.0, 0, 0.0
        self.point_s: float | None = None  # the latest measured seconds per point; None until a point succeeded
        self.held: list[Outcome] = []  # outcomes that came back before the store existed (every one failed)
        self.checked = False  # whether a point has succeeded: it creates the store, or is checked against it
        self.buffer: list[Outcome] = []  # outcomes received and not yet written
        self.buffered_bytes, self.writes = 0, 0
        self.flush_s = min(FLUSH_EVERY_S, plan.task_seconds)
        self.flushed = time.monotonic()  # when the store was last written

    @contextmanager
    def bar(self) -> Iterator[None]:
        with self.progress:
            yield

    def submit(self, indices: list[int]):
        plan = self.plan
        items = [(i, plan.design.points[i], plan.seeds[i]) for i in indices]
        task = Task(plan.job, plan.fixed, items, plan.paths, plan.metrics, plan.retries)
        return self.client.submit(run_task, task, retries=plan.retries, pure=False)

    def stream(self, indices: list[int], n_workers: int, completed: Any = None) -> list[int]:
        """Run ``indices``: first a pilot task of two points per worker, then tasks of at least ``task_seconds`` of
        work, two per worker in flight, writing the points of every batch of finished tasks; return the sizes of
        the tasks after the pilot.

        As long as no point has succeeded (the time per point is unknown), only two-point tasks go out, one per
        worker. A task's size (:func:`~scenarios.sweep.cluster.batch_size`) comes from the latest time per point:
        a pilot task's second point (warm: a worker's first point pays for what runs once per process), then the
        mean of the last task finished. ``completed`` is a ``distributed.as_completed`` (by default, on the client's
        loop).
        """
        from distributed import as_completed

        queue, sizes, tasks = deque(indices), [], {}
        completed = as_completed(loop=self.client.loop) if completed is None else completed

        def fill() -> None:
            while queue and len(tasks) < (n_workers if self.point_s is None else 2 * n_workers):
                pilot = self.point_s is None
                size = 2 if pilot else batch_size(self.plan.task_seconds, self.point_s, len(queue), n_workers)
                batch = [queue.popleft() for _ in range(min(size, len(queue)))]
                future = self.submit(batch)
                tasks[future] = (batch, pilot)
                completed.add(future)
                self.pilot_tasks += pilot
                if not pilot:
                    sizes.append(len(batch))

        fill()
        for finished in completed.batches():
            outcomes: list[Outcome] = []
            for future in finished:
                batch, pilot = tasks.pop(future)
                outcomes += self._timed(_results(future, batch), pilot)
            fill()  # the next tasks go out before the client writes (and, the first time, creates the store)
            self.receive(outcomes)
        if not self.checked:  # no point succeeded: failed rows (in a new store, without result variables)
            if self.store is None:
                self._create(None)
            self.checked = True
            self.receive([])
        self.flush()
        return sizes

    def _timed(self, outcomes: list[Outcome], pilot: bool) -> list[Outcome]:
        """Learn the time per point from a finished task (see :meth:`stream`); raise on a spec error found before
        any point succeeded."""
        spec = [o for o in outcomes if o[1] == "spec"]
        if spec and not self.checked:
            raise ParameterError(f"sweep {self.plan.name}: {spec[0][2]}")
        if pilot:
            warm = warm_point_seconds([outcomes])
            if warm > 0 and self.point_s is None:
                self.pilot_point_s = warm
            self.point_s = warm if warm > 0 else self.point_s
        else:
            timed = [o[3] for o in outcomes if o[3] > 0]
            self.point_s = float(np.mean(timed)) if timed else self.point_s
        return outcomes

    def receive(self, outcomes: list[Outcome]) -> None:
        """Take finished points: hold them until a point has succeeded (its outputs give a new store its layout, or
        are checked against a resumed store's), then write them with the first point at once; later points wait in
        memory until ``flush_s`` has passed since the last write (or they hold ``FLUSH_BYTES``), so that one write
        carries the points of several tasks (a write rewrites every chunk it touches: ``docs/sweeps.md``)."""
        if not self.checked:
            first = next((o for o in outcomes if o[1] == "done"), None)
            if first is None:
                self.held += outcomes
                return
            started = time.perf_counter()
            if self.store is None:
                self._create(first)
            else:
                self._check_schema(first)
            self.checked = True
            self.write_s += time.perf_counter() - started
            self.flushed = -math.inf  # the store's first points are written at once
        self.buffer += self.held + outcomes
        self.held = []
        self.buffered_bytes += sum(_nbytes(o) for o in outcomes)
        if time.monotonic() - self.flushed >= self.flush_s or self.buffered_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the points received: results whose layout matches the store's, failed rows for the others; then
        count them done or failed (a point is done only once its bytes are on disk)."""
        started = time.perf_counter()
        outcomes, self.buffer, self.buffered_bytes = self.buffer, [], 0
        self.flushed = time.monotonic()
        if not outcomes:
            return
        done: dict[int, dict[str, np.ndarray]] = {}
        failed: dict[int, str] = {}
        for index, status, payload, seconds in outcomes:
            self.points_s += seconds
            problem = self._mismatch(payload["outputs"]) if status == "done" else payload
            if problem is None:
                done[index] = {name: value for name, (_, value) in payload["outputs"].items()}
            else:  # a raising point, a layout other than the pilot's, or (after the pilot) a metrics problem
                failed[index] = problem
        self.store.write_points(done, failed, stale=[i for i in done if self.statuses[i] == FAILED])
        self.statuses[list(done)] = DONE
        self.statuses[list(failed)] = FAILED
        self.write_s += time.perf_counter() - started
        self.writes += 1
        self.progress.update(self.task, advance=len(outcomes), failed=int((self.statuses == FAILED).sum()))
        if time.monotonic() - self._counted > COUNTS_EVERY_S:
            self.store.update_counts(self.statuses)
            self._counted = time.monotonic()

    def _create(self, outcome: Outcome | None) -> None:
        payload = {"outputs": {}, "coords": {}} if outcome is None else outcome[2]
        plan = self.plan
        template = build_template(plan, payload["outputs"], payload["coords"])
        self.schema = schema_of(payload["outputs"])
        keys = plan.keys()
        info = {"job": plan.job, "dims": list(plan.design.dims), "shape": list(plan.design.shape),
                "variables": self.schema, "fingerprint": plan.fingerprint(keys), "paths": plan.paths}  # fmt: skip
        attrs = provenance(seed=plan.seed, config=plan.config) | {"sweep_name": plan.name}
        self.store = SweepStore.create(self.output, template, keys, info=info, attrs=attrs,
                                       overwrite=self.overwrite)  # fmt: skip

    def _check_schema(self, outcome: Outcome) -> None:
        if self.schema and self._mismatch(outcome[2]["outputs"]):
            raise ParameterError(f"--resume: store {self.output} holds other outputs than job {self.plan.job} "
                                 f"returns now ({self._mismatch(outcome[2]['outputs'])})")  # fmt: skip

    def _mismatch(self, outputs: dict[str, tuple[tuple[str, ...], np.ndarray]]) -> str | None:
        got = schema_of(outputs)
        for name in sorted(set(got) | set(self.schema)):
            a, b = got.get(name), self.schema.get(name)
            if a is None or b is None or a["dims"] != b["dims"] or a["shape"] != b["shape"]:
                return (f"job {self.plan.job} returned {name!r} as {a and (a['dims'], a['shape'])}; the store holds "
                        f"{b and (b['dims'], b['shape'])} (from the pilot point)")  # fmt: skip
        return None


def build_template(plan: Plan, outputs: dict, coords: dict) -> xr.Dataset:
    """Return the store's template: design coordinates, the results' coordinates and one lazy (dask) array per
    result variable over (design dims..., result dims...), chunked one point per chunk."""
    import dask.array

    design = plan.design
    clash = sorted(set(outputs) & ({*design.dims, *design.point_coords, *RESERVED}))
    if clash:
        raise ParameterError(f"job {plan.job} returns {clash}, which the store uses for the design or its "
                             f"bookkeeping ({', '.join(RESERVED)}); rename those outputs")  # fmt: skip
    variables = {}
    for name, (dims, value) in outputs.items():
        along = chunk_points(value.nbytes, design.shape[-1])
        chunks = (1,) * (len(design.shape) - 1) + (along,) + tuple(max(1, s) for s in value.shape)
        data = dask.array.full(design.shape + value.shape, fill_value(value.dtype), dtype=value.dtype, chunks=chunks)
        variables[name] = ((*design.dims, *dims), data)
    all_coords = {d: design.coords[d] for d in design.dims}
    all_coords |= {name: ("point", values) for name, values in design.point_coords.items()}
    all_coords |= {dim: (dim, np.asarray(values)) for dim, values in coords.items()}
    return xr.Dataset(variables, coords=all_coords)


def _results(future: Any, indices: list[int]) -> list[Outcome]:
    """Return a finished task's outcomes (every point failed when Dask gave the task up) and release it."""
    try:
        outcomes = future.result()
    except Exception as exc:  # a task Dask gave up (its worker died too often, or it failed outside the job)
        outcomes = [(i, "failed", f"task lost: {sentence(exc)}", 0.0) for i in indices]
    future.release()
    return outcomes


def warm_point_seconds(tasks: list[list[Outcome]]) -> float:
    """Return the median seconds of the pilot tasks' points run after their task's first (warm), or of the first
    points when no task ran a second point; 0 when no point succeeded."""
    warm = [o[3] for task in tasks for o in task[1:] if o[1] == "done"]
    times = warm or [task[0][3] for task in tasks if task and task[0][1] == "done"]
    return float(np.median(times)) if times else 0.0


@dataclass(frozen=True)
class Task:
    """The points of one task and what the job needs: sent to a worker as one object, which Dask neither walks
    nor copies (a list of items would be searched for Dask futures on every submit)."""

    job: str
    fixed: dict[str, Any]
    items: list[tuple[int, dict[str, Any], np.random.SeedSequence]]
    paths: int
    metrics: tuple[str, ...] | None
    retries: int


def run_task(task: Task, clock: Callable[[], float] = time.perf_counter) -> list[Outcome]:
    """Run a task's points in a worker (see :func:`run_points`)."""
    return run_points(task.job, task.fixed, task.items, task.paths, task.metrics, task.retries, clock=clock)


def run_points(
    job: str,
    fixed: dict[str, Any],
    items: list[tuple[int, dict[str, Any], np.random.SeedSequence]],
    paths: int,
    metrics: tuple[str, ...] | None,
    retries: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Outcome]:
    """Run the job on each point of a task (in a worker), timing each point with ``clock`` (s); a point that raises
    ``retries + 1`` times is failed."""
    function = resolve_job(job)
    outcomes: list[Outcome] = []
    for index, params, seed in items:
        started = clock()
        for _ in range(retries + 1):
            fresh = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)
            try:
                result = _outputs(job, function(fresh, paths, **fixed, **params), metrics)
                outcome: Outcome = (index, "done", result, 0.0)
                break
            except _MetricsError as exc:  # the spec asks for what the job does not return: a spec error
                outcome = (index, "spec", str(exc), 0.0)
                break
            except Exception as exc:  # a raising point is a failed row holding its sentence; the sweep goes on
                outcome = (index, "failed", sentence(exc), 0.0)
        outcomes.append((*outcome[:3], clock() - started))
    return outcomes


class _MetricsError(ParameterError):
    """The spec keeps metrics the job does not return."""


def _import_writers() -> None:
    """Import what the client needs to create and write the store and draw the progress bar, before the cluster
    starts: imported during the run (``dask.array`` alone, for the store's template, takes about a second), it
    would take that CPU from the workers (measured: ``docs/sweeps.md``). Writing a first template (to memory) also
    loads what xarray's ``to_zarr`` loads once per process (its backends' and chunk managers' entry points): 0.1-0.2 s
    of CPU the store's creation would otherwise pay during the run."""
    import dask.array
    import rich.progress  # noqa: F401
    import zarr

    keys = ("x", np.array(["a"], dtype=object))
    template = xr.Dataset({"v": ("x", dask.array.zeros(1))}, coords={"key": keys})
    template.to_zarr(zarr.storage.MemoryStore(), compute=False, zarr_format=3, consolidated=False)


def _import_job(job: str) -> None:
    """Import the job's modules in a worker, and what the first result it returns costs once per process: xarray
    imports ``dask.array`` when it builds its first variable (to check for dask arrays), 0.13-0.25 s of CPU that
    would otherwise fall on the first point run."""
    resolve_job(job)
    xr.Variable("x", np.zeros(1))


def _nbytes(outcome: Outcome) -> int:
    return sum(value.nbytes for _, value in outcome[2]["outputs"].values()) if outcome[1] == "done" else 0


def _outputs(job: str, result: Any, metrics: tuple[str, ...] | None) -> dict[str, Any]:
    if not isinstance(result, xr.Dataset):
        raise TypeError(f"job {job} returned a {type(result).__name__}; a job returns an xarray Dataset")
    names = list(result.data_vars) if metrics is None else list(metrics)
    missing = [m for m in names if m not in result.data_vars]
    if missing:
        raise _MetricsError(f"`sweep.metrics` names {', '.join(map(repr, missing))}, which job {job} does not "
                             f"return; it returns {', '.join(map(str, result.data_vars))}")  # fmt: skip
    variables = result.variables  # no DataArray built per output (each would carry the coordinates)
    outputs = {name: (tuple(map(str, variables[name].dims)), np.asarray(variables[name].values)) for name in names}
    for name, (_, value) in outputs.items():
        if value.dtype.kind not in "biuf":
            raise TypeError(f"job {job} returned {name!r} of dtype {value.dtype}; a job returns numbers")
    dims = {d for dims, _ in outputs.values() for d in dims}
    coords = {d: result[d].values for d in dims if d in result.coords}
    return {"outputs": outputs, "coords": coords}


def _digest(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workers_cpu(client: Any) -> dict[str, float]:
    """Return each worker process's CPU seconds so far, by worker address."""
    return client.run(_process_cpu_s, on_error="ignore")


def _cpu_since(before: dict[str, float], after: dict[str, float]) -> float:
    return sum(after[address] - before[address] for address in after.keys() & before.keys())


def _set_allowed_failures(client: Any, allowed: int) -> None:
    def apply(dask_scheduler, value: int) -> None:
        dask_scheduler.allowed_failures = value

    client.run_on_scheduler(apply, value=allowed)
