"""`simlab simulate abm` and `simlab calibrate abm`.

Simulate: run the agent-based market of a configuration (a TOML file or a name in scenarios/library/, e.g.
abm_rmsc04) for one or many markets from one root seed and write a store.

One market writes the groups ``events``, ``books``, ``paths`` and ``fundamental``; ``--markets N`` writes them under
``market_<k>_<group>`` for k = 0 .. N-1 (market k is the k-th child of the root seed, whatever ``--workers`` is).

Calibrate: fit the market's key parameters to a real window by simulated moments (:mod:`calibration.abm`) and
write a preset.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from scenarios.cli.data import DATA_HELP, FormatOption, ReaderOptions, parse_options
from simlab.errors import SimlabError

LIBRARY = Path(__file__).resolve().parents[1] / "library"


def resolve_config(name: str) -> Path:
    """A path as given, or ``scenarios/library/<name>.toml`` (``-`` and ``_`` alike) when no such file exists."""
    path = Path(name)
    if path.exists() or path.suffix:
        return path
    return LIBRARY / f"{name.replace('-', '_')}.toml"


def simulate_abm_command(
    config: Annotated[
        str, typer.Argument(help="A market TOML file, a calibrated preset or a library name (abm_rmsc04).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write.")],
    duration: Annotated[
        str, typer.Option(help="Length of the session, e.g. 30min, 6.5h (default: the config's).")
    ] = "",
    seed: Annotated[int, typer.Option(help="Root seed of the run.")] = 0,
    markets: Annotated[int, typer.Option(help="Independent markets from the root seed.")] = 1,
    workers: Annotated[int, typer.Option(help="Threads (cores) for --markets > 1.")] = 1,
    depth: Annotated[int, typer.Option(help="Book levels per side.")] = 10,
    sample: Annotated[str, typer.Option(help="Book sampling period (e.g. 1s); empty: after every event.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Simulate the agent-based market (ABIDES-class agents on the matching engine) into a store."""
    from calibration.abm import load_abm_preset
    from simlab.agents import simulate_markets
    from simlab.provenance import provenance
    from simlab.store import write_store
    from simlab.times import parse_duration_ns

    try:
        market, _ = load_abm_preset(resolve_config(config))
        duration_s = parse_duration_ns(duration) / 1e9 if duration else market.session_s
        sample_ns = parse_duration_ns(sample) if sample else None
        started = time.perf_counter()
        results = simulate_markets(
            market, markets, seed=seed, workers=workers, duration_s=duration_s, depth=depth, sample_ns=sample_ns
        )
        elapsed = time.perf_counter() - started
        groups = results[0] if markets == 1 else {f"market_{k}_{g}": r[g] for k, r in enumerate(results) for g in r}
        run = {"config": config, "markets": markets, "duration_s": duration_s, "depth": depth, "sample": sample}
        attrs = {"config_name": market.name, **provenance(seed=seed, config=run, true_params=market.to_dict())}
        write_store(groups, output, attrs=attrs, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    attrs = results[0]["events"].attrs
    print_summary(
        f"simulated {output}",
        {
            "config": market.name,
            "markets": markets,
            "duration (s)": duration_s,
            "book events (market 0)": attrs["book_events"],
            "agent wake-ups (market 0)": attrs["agent_wakeups"],
            "wall time (s)": round(elapsed, 3),
        },
    )


def calibrate_abm_command(
    paths: Annotated[list[Path], typer.Argument(metavar="DATA", help=DATA_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", help="The preset TOML file to write.")],
    config: Annotated[str, typer.Option(help="The market to calibrate: a TOML file or a library name.")] = "abm_rmsc04",
    start: Annotated[str, typer.Option(help="Window start after the data's first event (e.g. 2.5h).")] = "2.5h",
    duration: Annotated[str, typer.Option(help="Window length (e.g. 30min).")] = "30min",
    parameter: Annotated[
        list[str], typer.Option("--parameter", help="A fitted `table.key` (repeat; default: the five of the docs).")
    ] = [],  # noqa: B006
    start_value: Annotated[
        list[str], typer.Option("--start-value", help="`table.key=value`: a fitted parameter's start (repeat).")
    ] = [],  # noqa: B006
    seed: Annotated[int, typer.Option(help="Root seed of the simulations and the bootstrap.")] = 0,
    paths_per_candidate: Annotated[int, typer.Option("--paths", help="Simulated paths per candidate.")] = 4,
    maxfev: Annotated[int, typer.Option(help="Nelder-Mead evaluations after the Latin-hypercube search.")] = 120,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing preset.")] = False,
    format: FormatOption = "auto",
    options: ReaderOptions = [],  # noqa: B006
    workers: Annotated[
        int | None, typer.Option(help="Simulate on a local Dask cluster of N worker processes (default: in process).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Simulate on the running Dask scheduler at this address, tcp://HOST:PORT.")
    ] = None,
    moments: Annotated[
        str, typer.Option(help="The moments: `all` (every simulated event) or `visible` (a level-1 LOBSTER file's).")
    ] = "all",
    warmup: Annotated[str | None, typer.Option(help="Seconds simulated before the window (default: --start).")] = None,
) -> None:
    """Fit the agent market's key parameters to a real window by simulated moments and write the preset.

    With ``--workers`` or ``--scheduler`` the simulated paths run on the sweep runner's Dask cluster; the estimate
    is the same (every path has its own seed).
    """
    from calibration.abm import (
        DEFAULT_PARAMETERS,
        AgentMarketEstimator,
        load_abm_preset,
        market_for,
        preset_document,
        select_window,
        with_parameters,
        write_preset,
    )
    from scenarios.sweep.cluster import cluster_map
    from simlab.errors import ParameterError
    from simlab.io.dataset import load_dataset
    from simlab.times import parse_duration_ns

    try:
        if output.exists() and not overwrite:
            raise ParameterError(f"--output {output} exists; pass --overwrite to replace it")
        data = load_dataset(paths, format=format, **parse_options(options))
        start_s, duration_s = parse_duration_ns(start) / 1e9, parse_duration_ns(duration) / 1e9
        warmup_s = start_s if warmup is None else parse_duration_ns(warmup) / 1e9
        moment_set = _moment_set(moments)
        window = select_window(data, start_s, duration_s)
        market, _ = load_abm_preset(resolve_config(config))
        market = replace(market_for(market, window), name=output.stem)
        market = with_parameters(market, _start_values(start_value))
        started = time.perf_counter()
        with cluster_map(workers, scheduler) as mapper:
            est = AgentMarketEstimator(
                market,
                parameters=tuple(parameter) or DEFAULT_PARAMETERS,
                warmup_s=warmup_s,
                moments=moment_set,
                window_s=duration_s,
                n_paths=paths_per_candidate,
                seed=seed,
                maxfev=maxfev,
                mapper=mapper,
            )
            est.fit(window)
        source = {"files": [str(p) for p in paths], "start_s": start_s, "duration_s": duration_s, "config": config}
        if moments != "all" or warmup is not None:
            source.update(moments=moments, warmup_s=warmup_s)
        write_preset(preset_document(est, source=source), output)
    except SimlabError as exc:
        fail(exc)
    rows = {f"{k} (se)": f"{v:.6g} ({est.std_errors_[k]:.2g})" for k, v in est.estimates_.items()}
    elapsed = round(time.perf_counter() - started, 1)
    print_summary(f"calibrated {output}", {**rows, "objective": round(est.objective_, 2), "wall time (s)": elapsed})


def _start_values(pairs: list[str]) -> dict[str, float]:
    """``["table.key=value", ...]`` as a dict; a malformed pair is a ParameterError naming --start-value."""
    from simlab.errors import ParameterError

    out = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ParameterError(f"--start-value expects `table.key=number`; got {pair!r}") from None
    return out


def _moment_set(name: str):
    """The estimator's moment set for ``--moments``; an unknown name is a ParameterError naming the flag."""
    from calibration.abm import LOBSTER_MOMENTS
    from calibration.abm_visible import VISIBLE_MOMENTS
    from simlab.errors import ParameterError

    sets = {"all": LOBSTER_MOMENTS, "visible": VISIBLE_MOMENTS}
    if name not in sets:
        raise ParameterError(f"--moments must be one of {sorted(sets)}; got {name!r}")
    return sets[name]
