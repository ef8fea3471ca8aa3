"""`simlab stress run` and `simlab stress fit`: named crash episodes (scenarios/library/crash_*.toml) simulated
with their fitted shocks, and the fit of those shocks to the episode's template.

``stress_app`` is the ``simlab stress`` sub-app; other stress commands (``evaluate``, ``report``) register on it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from scenarios.cli.stress_eval import stress_evaluate, stress_report, stress_windows
from simlab.errors import SimlabError

stress_app = typer.Typer(
    help="Stress testing: named crash episodes, their fitted shocks, and models run through them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

WORLDS = ("abm", "hawkes", "generator", "amm")
stress_app.command("evaluate")(stress_evaluate)
stress_app.command("report")(stress_report)
stress_app.command("windows")(stress_windows)


@stress_app.command("run")
def stress_run(
    scenario: Annotated[str, typer.Argument(help="An episode TOML file or a library name (crash_2010_05_06_emini).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The stress store (zarr) to write.")],
    world: Annotated[str, typer.Option(help=f"The world to run the shocks in: {', '.join(WORLDS)}.")] = "abm",
    n_paths: Annotated[
        int, typer.Option("--paths", help="Paths to simulate (path k: the k-th child of the root seed).")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Root seed of the run.")] = 0,
    workers: Annotated[int, typer.Option(help="Threads running paths in parallel.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    model: Annotated[
        Path | None,
        typer.Option(
            help="World generator: the trained model folder (default: the episode's [world.generator] model, "
            "else one trained from its spec and saved as <output>.model)."
        ),
    ] = None,
) -> None:
    """Simulate an episode's paths with its stored fitted shocks and write the stress store (paths, statistics)."""
    from scenarios.stress.episodes import load_episode
    from scenarios.stress.run import run_stress, within_tolerance
    from simlab.errors import ParameterError

    try:
        if world not in WORLDS:
            raise ParameterError(f"--world must be one of {', '.join(WORLDS)}; got {world!r}")
        if output.exists() and not overwrite:
            raise ParameterError(f"--output {output} exists; pass --overwrite to replace it")
        if model is not None and world != "generator":
            raise ParameterError(f"--model is for --world generator; got --world {world}")
        episode = load_episode(scenario)
        started = time.perf_counter()
        store, rows = run_stress(episode, output, n_paths=n_paths, seed=seed, world=world, workers=workers,
                                 overwrite=overwrite, model=model)  # fmt: skip
        elapsed = time.perf_counter() - started
    except SimlabError as exc:
        fail(exc)
    share = float(within_tolerance(episode, rows).mean())
    print_summary(
        f"stress run {store}",
        {
            "scenario": episode.name,
            "world": world,
            "paths": n_paths,
            "mean drawdown": round(float(rows[:, 0].mean()), 5),
            "mean time to trough (s)": round(float(rows[:, 1].mean()), 1),
            "share within tolerance (drawdown and time to trough)": round(share, 3),
            "wall time (s)": round(elapsed, 2),
        },
    )


@stress_app.command("fit")
def stress_fit(
    scenario: Annotated[str, typer.Argument(help="An episode TOML file or a library name.")],
    seed: Annotated[int, typer.Option(help="Root seed (the design's paths; validation uses fresh ones).")] = 0,
    n_design: Annotated[int, typer.Option("--design", help="Latin-hypercube points of the first design.")] = 12,
    n_refine: Annotated[
        int, typer.Option("--refine", help="Points of the second design around the best (0: none).")
    ] = 6,
    paths: Annotated[int, typer.Option(help="Paths per design point (common random numbers).")] = 4,
    validate_paths: Annotated[int, typer.Option("--validate", help="Fresh paths that validate the fit.")] = 20,
    workers: Annotated[int, typer.Option(help="Worker processes of the local Dask cluster.")] = 2,
    scheduler: Annotated[str, typer.Option(help="A running Dask scheduler's address instead.")] = "",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The fit JSON (default: <episode>.fitted.json beside it).")
    ] = None,
) -> None:
    """Fit the episode's shock parameters to its template on the sweep runner and store the fit."""
    from scenarios.stress.episodes import load_episode
    from scenarios.stress.fit import fit_episode, write_fit

    try:
        episode = load_episode(scenario)
        result = fit_episode(episode, seed=seed, n_design=n_design, n_refine=n_refine, paths=paths,
                             validate_paths=validate_paths, workers=workers, scheduler=scheduler or None)  # fmt: skip
        path = write_fit(episode, result, output)
    except SimlabError as exc:
        fail(exc)
    print_summary(
        f"fitted {episode.name} -> {path}",
        {
            **{name: round(value, 6) for name, value in result.parameters.items()},
            "objective": round(result.objective, 4),
            "share within tolerance (fresh paths)": f"{result.share_within:.2f} of {result.validate_paths}",
            "design points": result.evaluations,
            "wall time (s)": round(result.seconds, 1),
        },
    )
