"""`simlab generate train SPEC -o MODEL` and `simlab generate sample MODEL ... -o STORE`: the learned generators.

``scenarios/cli/__init__.py`` registers :data:`app` as the ``generate`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scenarios.cli.console import fail, print_summary, progress
from simlab.errors import ParameterError, SimlabError

app = typer.Typer(help="Learned generators of order flow.", no_args_is_help=True, pretty_exceptions_enable=False)


@app.command("train")
def train(
    spec: Annotated[
        str, typer.Argument(help="A training spec TOML or a library name (scenarios/library/generate_*.toml).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The model folder to write.")],
    data_dir: Annotated[Path | None, typer.Option("--data", help="Real-data folder (default ../shared/data).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the training checkpointed in the output folder.")] = False,
) -> None:
    """Train a generator on the spec's real data (train and validation spans); checkpoint at every validation."""
    from generators.spec import train_from_spec
    from scenarios.cli.abm import resolve_config
    from simlab.io import DEFAULT_DATA_DIR

    spec = resolve_config(spec)
    try:
        with progress() as bar:
            task = bar.add_task("training", total=None)

            def report(step: int, total: int, train_loss: float, validation_loss: float | None) -> None:
                text = f"training (loss {train_loss:.4f}, validation {validation_loss:.4f})"
                bar.update(task, completed=step, total=total, description=text)

            model = train_from_spec(spec, output, data_dir=data_dir or DEFAULT_DATA_DIR, resume=resume, progress=report)
    except SimlabError as exc:
        fail(exc)
    state = model.training_
    print_summary(
        f"trained {spec.name} -> {output}",
        {"steps": state.step, "best validation loss": f"{state.best_loss:.4f} at step {state.best_step}",
         "device": str(model.device), "model": str(output)},
    )  # fmt: skip


@app.command("sample")
def sample(
    model: Annotated[Path, typer.Argument(help="A model folder written by `simlab generate train`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The store to write (events and books groups).")],
    paths: Annotated[int, typer.Option("--paths", help="Independent books, sampled together.")] = 1,
    duration: Annotated[str, typer.Option(help="Length of every path, e.g. 30s, 10min.")] = "1min",
    seed: Annotated[int, typer.Option(help="Root seed of the sampling.")] = 0,
    regime: Annotated[
        list[str] | None,
        typer.Option("--regime", help="A condition name=quintile (1-5): volatility, trend, depth, imbalance."),
    ] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Guidance weight (diffusion: classifier-free; GAN: in output space).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    stop_when_stuck: Annotated[
        bool, typer.Option(help="End a path on which no generated message applies any more (recorded) and go on.")
    ] = False,
    start_in_regime: Annotated[
        bool,
        typer.Option(
            help="Start each path from a training window whose past regime is the --regime asked (needs --spec)."
        ),
    ] = False,
    spec: Annotated[
        str | None,
        typer.Option(help="The model's training spec, a file or a library name (its train span holds the starts)."),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data", help="Real-data folder (default ../shared/data).")] = None,
    particles: Annotated[
        int, typer.Option(help="Particles per path: above 1, select the paths toward --regime by SMC (1: plain).")
    ] = 1,
    smc: Annotated[
        list[str] | None,
        typer.Option(
            "--smc",
            help=(
                "An SMC option key=number: every_s (2), window (256), sharpness (4), final_sharpness (sharpness; "
                "inf: the output path is in the regime whenever one of its particles is), ess_threshold (1: "
                "resample at every checkpoint)."
            ),
        ),
    ] = None,
    trade_fill: Annotated[
        str,
        typer.Option(
            help=(
                "What a generated TRADE fills: queue (its share of the best opposite level, as many resting orders as "
                "that takes) or front (at most that level's front order, one fill, as one execution row of the data)."
            )
        ),
    ] = "queue",
    thin_rate: Annotated[
        float,
        typer.Option(
            help=(
                "Removals per order per second of the orders the flow leaves behind the best (those a level-1 file "
                "does not record; estimate it with generators.thinning.behind_hazard); 0: none."
            )
        ),
    ] = 0.0,
    runaway: Annotated[
        str | None,
        typer.Option(
            help=(
                "MESSAGES/SECONDS, e.g. 1328/60: end a path once more than MESSAGES messages apply within one "
                "SECONDS-long interval of its clock (recorded as runaway) and go on."
            )
        ),
    ] = None,
) -> None:
    """Sample paths from a trained generator, rolled out on the matching engine, into a store.

    Path 0 is the groups ``events`` and ``books`` (``simlab score`` reads them); path p > 0 is ``events_{p:04d}``
    and ``books_{p:04d}``. With ``--start-in-regime`` each path starts from its own window of the training span
    whose measured past regime is the asked one (drawn with ``--seed``; the windows are in the store's provenance).
    With ``--particles K`` (> 1) every path is one of K particles resampled toward the asked regime at checkpoints
    (sequential Monte Carlo, :mod:`generators.smc`; the record is in each path's ``smc_*`` attributes). With
    ``--runaway`` a path whose flow speeds up past the bound is ended there (:class:`generators.rollout.RateGuard`).
    With ``--thin-rate`` the orders the flow leaves behind the best are thinned at that rate (counted, ``thinned``).
    """
    from generators.rollout import RateGuard, check_thin_rate, check_trade_fill
    from generators.spec import load_generator
    from scenarios.generate.counterfactual import parse_smc
    from simlab.provenance import provenance
    from simlab.store import write_store
    from simlab.times import parse_duration_ns

    try:
        condition = parse_regime(regime or [])
        options = parse_smc(smc or [], "--smc")
        guard = None if runaway is None else RateGuard.parse(runaway, "--runaway")
        check_trade_fill(trade_fill, "generate sample")
        check_thin_rate(thin_rate, "generate sample")
        generator = load_generator(model)
        seconds = parse_duration_ns(duration) / 1e9
        starts, drawn = regime_starts(generator, condition, paths, seed, start_in_regime, spec, data_dir)
        with progress() as bar:
            task = bar.add_task("paths done", total=paths)
            samples = generator.sample(
                paths, seconds, generator=seed, regime=condition, guidance=guidance,
                progress=lambda done, total: bar.update(task, completed=done), stop_when_stuck=stop_when_stuck,
                starts=starts, particles=particles, smc=options, runaway=guard, trade_fill=trade_fill,
                thin_rate=thin_rate,
            )  # fmt: skip
        groups: dict[str, Any] = {}
        for index, path in enumerate(samples):
            suffix = "" if index == 0 else f"_{index:04d}"
            groups.update({f"events{suffix}": path["events"], f"books{suffix}": path["books"]})
        config = {"model": str(model), "paths": paths, "duration": duration, "regime": condition, "guidance": guidance}
        config.update(stop_when_stuck=stop_when_stuck, start_in_regime=start_in_regime, spec=spec and str(spec))
        runaway_guard = None if guard is None else {"messages": guard.messages, "seconds": guard.seconds}
        config.update(
            start_windows=drawn,
            particles=particles,
            smc=options,
            runaway=runaway_guard,
            trade_fill=trade_fill,
            thin_rate=thin_rate,
        )
        write_store(groups, output, attrs=provenance(seed=seed, config=config), overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    first = samples[0]["events"].attrs
    summary = {"store": str(output), "messages applied (path 0)": first["applied"]}
    summary["rejected and resampled (path 0)"] = first["rejected"]
    summary["discarded after a rejection (path 0)"] = first["discarded"]
    summary["paths ended stuck"] = sum(int(path["events"].attrs["stuck"]) for path in samples)
    if guard is not None:
        summary["paths ended runaway"] = sum(int(path["events"].attrs["runaway"]) for path in samples)
    print_summary(f"sampled {paths} path(s) of {duration} from {model}", summary)


def parse_regime(pairs: list[str]) -> dict[str, int]:
    """Return ``{name: quintile}`` from ``name=quintile`` pairs (checked by the generator)."""
    out: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise ParameterError(f"--regime must look like name=quintile (an int 1-5), e.g. volatility=5; got {pair!r}")
        out[name.strip()] = int(value)
    return out


def regime_starts(
    generator: Any, condition: dict[str, int], paths: int, seed: int, wanted: bool, spec: str | None, data: Any
) -> tuple[list | None, dict | None]:
    """Return the start windows in the asked regime and their record (None, None unless ``wanted``)."""
    if not wanted:
        return None, None
    from generators.starts import draw_starts
    from scenarios.cli.abm import resolve_config
    from scenarios.generate.counterfactual import training_windows
    from simlab.io import DEFAULT_DATA_DIR

    if not condition:
        raise ParameterError("--start-in-regime needs a --regime to start in (e.g. --regime volatility=5)")
    windows = training_windows(generator, spec and resolve_config(spec), data or DEFAULT_DATA_DIR)
    return draw_starts(windows, condition, paths, seed=seed)
