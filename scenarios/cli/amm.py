"""`simlab amm sweep SPEC.toml -o STORE [--workers N | --scheduler ADDRESS] [--resume]`: run an AMM fee-design
sweep through the sweep runner and print its ranked summary.

``scenarios/cli/__init__.py`` registers :data:`app` as the ``amm`` command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scenarios.cli.console import console, fail
from simlab.errors import SimlabError

app = typer.Typer(help="AMM lab: fee-design sweeps.", no_args_is_help=True, pretty_exceptions_enable=False)
COLUMNS = ("lp_pnl_bps", "lvr_bps", "fees_noise_bps", "cvar_5_bps")


@app.command("sweep")
def sweep(
    spec: Annotated[str, typer.Argument(help="A sweep TOML file, or the name of one in scenarios/library/.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write.")],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    workers: Annotated[int | None, typer.Option(help="Worker processes of the local cluster (default: cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="A running Dask scheduler's address, tcp://HOST:PORT.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue STORE: points already done are not run again.")] = False,
) -> None:
    """Simulate every fee design of SPEC in every market through the sweep runner (one Dask task per batch of
    designs), store the results and print them ranked."""
    from scenarios.amm.sweep import run_sweep

    try:
        rows = run_sweep(spec, output, overwrite=overwrite, workers=workers, scheduler=scheduler, resume=resume,
                         progress=True)  # fmt: skip
    except SimlabError as exc:
        fail(exc)
    if not rows:
        fail(SimlabError(f"AMM sweep {spec}: some points failed or are pending, so nothing is ranked; the `status` "
                         f"and `error` rows of {output} say which and why"))  # fmt: skip
    rank_column = next(key for key in rows[0] if key.endswith("(95% CI)"))
    table = Table(title=f"AMM sweep {spec} -> {output} (money in bps of the pool's initial value)")
    for column in ("market", "rank", "design", rank_column, *COLUMNS):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("market", "rank", "design", rank_column, *COLUMNS)))
    console.print(table)
