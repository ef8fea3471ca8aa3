"""`simlab calibrate hawkes` and `simlab simulate hawkes`: fit a preset to real data, simulate a preset to a store.

``scenarios/cli/__init__.py`` registers these functions as the ``hawkes`` commands of its ``calibrate`` and ``simulate``
groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary, progress
from scenarios.cli.data import DATA_HELP, FormatOption, ReaderOptions, parse_options
from simlab.errors import SimlabError


def calibrate_hawkes(
    paths: Annotated[list[Path], typer.Argument(metavar="DATA", help=DATA_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", help="The preset TOML file to write.")],
    format: FormatOption = "auto",
    options: ReaderOptions = [],  # noqa: B006
    dims: Annotated[
        str, typer.Option(help="A recipe (trades, order-flow) or dimension names, e.g. buy,sell.")
    ] = "trades",
    split: Annotated[
        str, typer.Option(help="Train on the first FRACTION of the window or up to an ISO UTC time; rest validates.")
    ] = "0.7",
    validate_on: Annotated[
        list[Path], typer.Option("--validate-on", help="Another window to validate on (then DATA trains whole).")
    ] = [],  # noqa: B006
    name: Annotated[str | None, typer.Option(help="Preset name (default: the output file's stem).")] = None,
    seasonality: Annotated[bool, typer.Option(help="Fit in activity time (hour-of-day profile).")] = False,
    decays: Annotated[
        str | None, typer.Option(help="Fixed decays in 1/s, comma-separated (one per component); default: fitted.")
    ] = None,
    resolution: Annotated[str, typer.Option(help="The data's clock resolution, e.g. 1ms, 1ns.")] = "1ms",
    ofi_bin: Annotated[str, typer.Option("--ofi-bin", help="OFI bin length for the validation.")] = "1s",
    n_paths: Annotated[int, typer.Option("--paths", help="Simulated paths in the validation.")] = 40,
    seed: Annotated[int, typer.Option(help="Root seed of the fit's starts and the validation.")] = 0,
) -> None:
    """Fit a Hawkes preset (MLE) to real events, validate it on held-out data and write the TOML file."""
    from calibration.fit_presets import calibrate

    try:
        preset = calibrate(
            paths,
            output,
            format=format,
            options=parse_options(options),
            dims=dims,
            split=split,
            validate_on=validate_on,
            name=name or output.stem,
            seasonality=seasonality,
            decays=decays,
            resolution=resolution,
            ofi_bin=ofi_bin,
            n_paths=n_paths,
            seed=seed,
        )
    except SimlabError as exc:
        fail(exc)
    diagnostics, validation = preset.diagnostics, preset.validation
    print_summary(
        f"preset {preset.name} -> {output}",
        {
            "dimensions": ", ".join(preset.params.names),
            "train events": diagnostics["n_events"],
            "branching ratio": round(diagnostics["branching_ratio"], 4),
            "loglik gain over Poisson": diagnostics["poisson_gain"],
            "KS p (train)": diagnostics["ks_pvalue"],
            "held-out counts real": validation["real_counts"],
            "held-out counts simulated": validation["simulated_counts_mean"],
            "inter-arrival KS": validation["interarrival_ks"],
        },
    )


def simulate_hawkes(
    preset: Annotated[str, typer.Argument(help="A preset TOML file or the name of a shipped preset.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write (one group per path).")],
    duration: Annotated[str, typer.Option(help="Length of each path, e.g. 10min, 1h.")] = "1h",
    n_paths: Annotated[int, typer.Option("--paths", help="Number of independent paths.")] = 1,
    seed: Annotated[int, typer.Option(help="Root seed of the run.")] = 0,
    start: Annotated[str, typer.Option(help="UTC start of the paths (ISO), e.g. 2024-08-09T00:00:00.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Simulate event paths from a Hawkes preset into a store (true parameters in its attributes)."""
    from calibration.presets import load_preset, simulate_to_store
    from simlab.times import parse_duration_ns

    try:
        model = load_preset(preset)
        duration_s = parse_duration_ns(duration) / 1e9
        start_ns = _start_ns(start)
        with progress() as bar:
            task = bar.add_task(f"simulating {model.name}", total=n_paths)
            summary = simulate_to_store(
                model,
                output,
                duration_s,
                n_paths=n_paths,
                seed=seed,
                start_ns=start_ns,
                overwrite=overwrite,
                progress=lambda k: bar.advance(task),
            )
    except SimlabError as exc:
        fail(exc)
    print_summary(f"simulated {output}", summary)


def _start_ns(text: str) -> int:
    import numpy as np

    if not text:
        return 0
    try:
        return int(np.datetime64(text.rstrip("Z"), "ns").astype(np.int64))
    except ValueError as exc:
        raise SimlabError(f"--start must be an ISO UTC time such as 2024-08-09T00:00:00; got {text!r}") from exc
