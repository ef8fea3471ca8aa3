"""`simlab sweep SPEC -o STORE [--workers N | --scheduler tcp://HOST:PORT] [--resume]`: run a sweep on Dask.

``scenarios/cli/__init__.py`` registers :func:`sweep` as the ``sweep`` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import console, fail, print_summary
from simlab.errors import ParameterError, SimlabError


def sweep(
    spec: Annotated[str, typer.Argument(help="A sweep TOML file, or the name of one in scenarios/library/.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write.")],
    workers: Annotated[int | None, typer.Option(help="Worker processes of the local cluster (default: cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="A running Dask scheduler's address, tcp://HOST:PORT.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue STORE: points already done are not run again.")] = False,
    connect_timeout: Annotated[float, typer.Option(help="Seconds to wait for --scheduler.")] = 10.0,
) -> None:
    """Run every point of the sweep SPEC on Dask, streaming each result into STORE as it finishes."""
    from scenarios.sweep.runner import run_sweep_spec

    try:
        if workers is not None and scheduler is not None:
            raise ParameterError(f"--workers and --scheduler exclude each other (a scheduler has its own workers); "
                                 f"got --workers {workers} and --scheduler {scheduler}")  # fmt: skip
        result = run_sweep_spec(spec, output, workers=workers, scheduler=scheduler, resume=resume, progress=True,
                                connect_timeout_s=connect_timeout)  # fmt: skip
    except SimlabError as exc:
        fail(exc)
    print_summary(f"sweep {spec} -> {output}", {
        "points done": result.done, "points failed": result.failed, "points pending": result.pending,
        "workers": result.workers, "points per task": result.batch_points, "tasks": result.tasks,
        "pilot point (s)": round(result.pilot_point_s, 4), "wall (s)": round(result.wall_s, 2)})  # fmt: skip
    if result.failed:
        console.print(f"[yellow]{result.failed} points failed[/]: their `error` rows in {output} hold the reasons")
