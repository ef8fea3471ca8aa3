"""`simlab score SYNTHETIC --real REAL -o OUTPUT`: the realism scorecard of a synthetic store against real data.

``scenarios/cli/__init__.py`` registers :func:`score` as the ``score`` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from scenarios.cli.data import parse_options
from simlab.errors import SimlabError


def score(
    synthetic: Annotated[Path, typer.Argument(help="The synthetic store (simulate book / hawkes, a generator's).")],
    real: Annotated[Path, typer.Option("--real", help="The real store, or a real file / folder of files.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for scores.json, scores.zarr, report.html.")],
    seed: Annotated[int, typer.Option(help="Root seed of the bootstraps and the classifier.")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates per interval.")] = 200,
    group: Annotated[str | None, typer.Option(help="Events group of the synthetic store (default: events).")] = None,
    discriminative: Annotated[bool, typer.Option(help="Train the real-vs-synthetic classifier.")] = True,
    strict: Annotated[bool, typer.Option(help="Fail, listing them, if any measure is not applicable.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    aggregate_trades: Annotated[
        bool,
        typer.Option(
            "--aggregate-trades",
            help="Merge consecutive trades of one aggressor side sharing a timestamp into one market order (both "
            "datasets), e.g. for raw Binance trade files (one print per fill).",
        ),
    ] = False,
    format: Annotated[
        str, typer.Option("--format", "-f", help="Format of --real's raw files (see `simlab formats`).")
    ] = "auto",
    options: Annotated[
        list[str], typer.Option("--option", help="Reader option key=value (JSON value) for --real's raw files.")
    ] = [],  # noqa: B006
    convention: Annotated[
        str,
        typer.Option(
            help="simlab (default): simlab's scores; lobbench: LOB-Bench's reference code's own scores, summaries and "
            "impact score, reproduced exactly (docs/lobbench.md).",
        ),
    ] = "simlab",
    sequence_length: Annotated[
        int | None,
        typer.Option("--sequence-length", help="Under --convention lobbench: messages per sequence (default: one)."),
    ] = None,
    known_depth: Annotated[
        bool | None,
        typer.Option(
            "--known-depth/--read-unknown-depth",
            help="Score the book beyond the touch on the cells the data determine (default: when the books mark "
            "unknown cells, as a LOBSTER replay of a deeper message file does), or read every cell as stored.",
        ),
    ] = None,
) -> None:
    """Score a synthetic dataset against real data: JSON, an xarray store and a one-page HTML report."""
    from scenarios.score.runner import score_stores

    try:
        summary = score_stores(
            synthetic, real, output, seed=seed, n_boot=n_boot, group=group, discriminative=discriminative,
            strict=strict, overwrite=overwrite, aggregate_trades=aggregate_trades, format=format,
            options=parse_options(options), convention=convention, sequence_length=sequence_length,
            known_depth=known_depth,
        )  # fmt: skip
    except SimlabError as exc:
        fail(exc)
    print_summary(f"scored {synthetic} against {real}", summary)
