"""`simlab simulate abm`: run the agent-based market of a configuration (a TOML file or a name in
scenarios/library/, e.g. abm_rmsc04) for one or many markets from one root seed and write a store.

One market writes the groups ``events``, ``books``, ``paths`` and ``fundamental``; ``--markets N`` writes them under
``market_<k>_<group>`` for k = 0 .. N-1 (market k is the k-th child of the root seed, whatever ``--workers`` is).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from simlab.errors import SimlabError

LIBRARY = Path(__file__).resolve().parents[1] / "library"


def resolve_config(name: str) -> Path:
    """A path as given, or ``scenarios/library/<name>.toml`` (``-`` and ``_`` alike) when no such file exists."""
    path = Path(name)
    if path.exists() or path.suffix:
        return path
    return LIBRARY / f"{name.replace('-', '_')}.toml"


def simulate_abm_command(
    config: Annotated[str, typer.Argument(help="A market TOML file or a library name (abm_rmsc04).")],
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
    from simlab.agents import read_market_config, simulate_markets
    from simlab.store import write_store
    from simlab.times import parse_duration_ns

    try:
        market, _ = read_market_config(resolve_config(config))
        duration_s = parse_duration_ns(duration) / 1e9 if duration else market.session_s
        sample_ns = parse_duration_ns(sample) if sample else None
        started = time.perf_counter()
        results = simulate_markets(
            market, markets, seed=seed, workers=workers, duration_s=duration_s, depth=depth, sample_ns=sample_ns
        )
        elapsed = time.perf_counter() - started
        groups = results[0] if markets == 1 else {f"market_{k}_{g}": r[g] for k, r in enumerate(results) for g in r}
        write_store(groups, output, attrs={"config_name": market.name, "root_seed": seed}, overwrite=overwrite)
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
