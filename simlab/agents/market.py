"""Simulate the agent-based market: ABIDES-class agents trading through the one matching engine.

:func:`simulate_abm` runs one market from one seed; :func:`simulate_markets` runs many independent markets (paths)
from one root seed on threads (the event loop releases the GIL), each market's bytes independent of the number of
threads. The population, its rules and their sources are in :mod:`simlab.agents._rules` and ``docs/agents.md``; the
event loop in :mod:`simlab.agents._kernel`.

Seeds: the market's SeedSequence spawns, in order, the streams of the setup (latencies, first wake-ups), the
fundamental, the noise, value, market-maker and momentum agents, the execution agents (their latencies) and the market's
activity (drawn from only when it is on, at the set-up); each component draws from its own, so a market with an
execution agent and the same market without it share every draw (common random numbers: they differ only through the
agent's orders).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr

from simlab.agents import _kernel as K
from simlab.agents import _loop
from simlab.agents import _rules as R
from simlab.agents.config import CLASS_ORDER, SIZE_VOLUMES, VOLUME_KERNELS, MarketConfig
from simlab.agents.execution import execution_report, execution_schedule, liquidation_report
from simlab.book import _engine, _sim
from simlab.book._sim_output import BookSimulation, check_recording, whole
from simlab.errors import ParameterError
from simlab.provenance import provenance

CLASS_NAMES = (*CLASS_ORDER, "exchange")
LIGHT_M_PER_NS = 0.299792458
_COMPONENTS = ("setup", "fundamental", "noise", "value", "market_maker", "momentum", "execution", "activity")


def simulate_abm(
    config: MarketConfig,
    *,
    seed: int | tuple[int, ...],
    market: int | tuple[int, ...] | None = None,
    duration_s: float | None = None,
    depth: int = 10,
    sample_ns: int | None = None,
    path_sample_ns: int | None = 60_000_000_000,
) -> dict[str, xr.Dataset]:
    """Simulate one market from its open for ``duration_s`` seconds.

    Parameters
    ----------
    config
        The market (session, fundamental, agent populations, latency, opening book).
    seed
        The root seed: an int >= 0, or a tuple of ints >= 0 (the entropy of a ``SeedSequence``, as in
        ``SeedSequence([run, 0])``).
    market
        ``None``: the market of the root seed itself; an int ``k`` >= 0 (or a spawn key, a tuple of ints >= 0): the
        market ``SeedSequence(seed, spawn_key=(k,))``, which is market ``k`` of :func:`simulate_markets` (its
        ``SeedSequence(seed).spawn(n)[k]``). The same arguments give the same bytes, call after call.
    duration_s
        Length of the session in seconds (default ``config.session_s``); its end is the close that value agents
        forecast to.
    depth
        Levels per side of the books.
    sample_ns
        ``None``: the book after every event record; an int > 0: the book every ``sample_ns`` ns from the open.
    path_sample_ns
        ``None``: the per-class accounts after every message that changed the book; an int > 0: every
        ``path_sample_ns`` ns from the open (default one minute).

    Returns
    -------
    dict
        ``"events"`` (ADD / DELETE / TRADE records with ``agent_id``; trades carry ``passive_agent_id`` and
        ``aggressor_order_id``; ``agent_id`` -1 is the exchange's opening book), ``"books"``, ``"paths"`` (per
        agent class, ``agent_class`` k naming the attribute ``agent_classes[k]``: ``cash_ticks_lots``,
        ``inventory_lots``, ``pnl_ticks_lots`` marked to the mid, and ``mid_ticks``)
        and ``"fundamental"`` (the true value at every look, ``megashocks`` applied before it); with execution
        agents, ``"execution"`` (arrival price, fills, slippage, impact path: see ``execution_report``). Every Dataset
        carries the provenance (seed, config, true parameters) and the run's counts.
    """
    if not isinstance(config, MarketConfig):
        raise ParameterError(f"`config` of simulate_abm must be a MarketConfig; got {type(config).__name__}")
    root = _root(seed, market)
    duration_s = config.session_s if duration_s is None else _duration(duration_s)
    depth, sample_ns = check_recording(depth, sample_ns, 0, "simulate_abm")
    path_sample_ns = 0 if path_sample_ns is None else whole(path_sample_ns, "path_sample_ns", 1, "simulate_abm")
    market = _Market(config, root, duration_s, depth, sample_ns, path_sample_ns)
    market.run()
    return market.datasets()


def simulate_markets(
    config: MarketConfig, n_markets: int, *, seed: int, workers: int = 1, **options: Any
) -> list[dict[str, xr.Dataset]]:
    """Simulate ``n_markets`` independent markets from one root seed, on ``workers`` threads.

    Market ``k`` is :func:`simulate_abm` with ``seed=seed, market=k`` (the child
    ``SeedSequence(seed).spawn(n_markets)[k]``), whatever
    ``workers`` is, so the bytes do not depend on the number of threads. The event loop releases the GIL, so the
    markets run on as many cores as threads with no process start-up or recompilation; on a cluster, each market
    (a pure function of the config and its child seed) is one job of the sweep runner. ``options`` go to
    :func:`simulate_abm`.
    """
    n_markets = whole(n_markets, "n_markets", 1, "simulate_markets")
    workers = whole(workers, "workers", 1, "simulate_markets")
    _root(seed)
    if workers == 1:
        return [simulate_abm(config, seed=seed, market=k, **options) for k in range(n_markets)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(simulate_abm, config, seed=seed, market=k, **options) for k in range(n_markets)]
        return [job.result() for job in jobs]


def _root(seed: Any, market: Any = None) -> np.random.SeedSequence:
    """A fresh SeedSequence of the root ``seed`` and the spawn key ``market`` (built anew at each call, so no state
    carries over between runs)."""
    entropy = tuple(seed) if isinstance(seed, (tuple, list)) else seed
    if not (_whole(entropy) or (isinstance(entropy, tuple) and entropy and all(_whole(e) for e in entropy))):
        raise ParameterError(f"`seed` of simulate_abm must be an int >= 0 or a tuple of them (with `market` for a "
                             f"child market); got {seed!r}")  # fmt: skip
    key = () if market is None else (market,) if _whole(market) else market
    if not isinstance(key, tuple) or not all(_whole(k) for k in key):
        raise ParameterError(f"`market` of simulate_abm must be None, an int >= 0 or a tuple of ints >= 0 (a spawn "
                             f"key); got {market!r}")  # fmt: skip
    entropy = int(entropy) if _whole(entropy) else [int(e) for e in entropy]
    return np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in key))


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"`duration_s` of simulate_abm must be a finite number > 0; got {value!r}")
    return float(value)


def latencies_ns(config: MarketConfig, setup: np.random.Generator, own: np.random.Generator) -> np.ndarray:
    """One-way latency of each agent to the exchange (ns): the ABIDES line model or a fixed value; the makers'
    ``latency_us`` instead when it is on.

    The exchange and the background agents are placed with ``setup``, the execution and stop-loss agents with
    ``own``, so that adding them leaves the background market's draws unchanged (common random numbers).
    """
    lat, n = config.latency, sum(config.counts)
    n_background = sum(config.counts[:4])  # noise, value, market makers, momentum: ABIDES' population
    if lat.model == "fixed":
        out = np.full(n, lat.fixed_ns, np.int64)
    else:
        exchange = setup.uniform(0.0, lat.line_m)
        where = np.concatenate(
            [setup.uniform(0.0, lat.line_m, n_background), own.uniform(0.0, lat.line_m, n - n_background)]
        )
        out = (np.abs(where - exchange) / LIGHT_M_PER_NS).astype(np.int64)
    if config.market_maker.latency_us > 0:  # co-located makers (ours): the draws above are kept (CRN)
        first = config.counts[0] + config.counts[1]
        out[first : first + config.market_maker.count] = int(round(config.market_maker.latency_us * 1e3))
    return out


def noise_wake_ns(config: MarketConfig, gen: np.random.Generator) -> np.ndarray:
    """Noise agents' wake times: U-quadratic on [open + wake_start_s, open + session_s] (ABIDES ``get_wake_time``;
    its window ends at 16:00 whatever the run's end, so a shorter run sees only the noise agents of its span)."""
    start, end_ns = config.open_ns + config.noise.wake_start_s * 1e9, config.open_ns + config.session_s * 1e9
    u = gen.random(config.noise.count)
    x = 0.5 + np.cbrt(0.25 * (u - 0.5))  # inverse CDF of the U-quadratic law on [0, 1]: F(x) = 4 (x - 1/2)^3 + 1/2
    return np.rint(start + x * (end_ns - start)).astype(np.int64)


def size_law(weights: tuple[float, ...], log_mean: float, log_sd: float) -> list[float]:
    """The kernel's layout of a size law: on (1) or off (0), the log-normal's mean and sd, the 11 cumulative
    weights (zeros when off)."""
    cumulative = np.cumsum(weights) / sum(weights) if weights else np.zeros(11)
    return [1.0 if weights else 0.0, log_mean, log_sd, *cumulative.tolist()]


def half_spread_floors(makers, session_s: float) -> np.ndarray:
    """The tail of the makers' parameter vector for the half-spread floor's intraday profile (``_rules``'
    ``MP_PROFILE_*``): ``[0, 0]`` when it is off, else the number of parts, a part's length (ns) and each part's floor
    ``rint(min_half_spread_ticks x weight)`` (ticks)."""
    profile = makers.half_spread_profile
    if not profile:
        return np.zeros(2)
    floors = np.rint(makers.min_half_spread_ticks * np.asarray(profile))
    return np.concatenate([[len(profile), math.floor(session_s * 1e9 / len(profile))], floors])


class _Market(BookSimulation):
    """The engine, the agents' arrays, the message heap and the recording of one market."""

    def __init__(self, config: MarketConfig, root, duration_s: float, depth: int, sample_ns: int, path_ns: int):
        self.config, self.duration_s, self.path_ns = config, duration_s, path_ns
        self.streams = [np.random.default_rng(s) for s in root.spawn(len(_COMPONENTS))]
        self.root_entropy = root.entropy, tuple(root.spawn_key)
        self.end_ns = config.open_ns + int(round(duration_s * 1e9))
        expected = int(4 * duration_s + 4096)
        n_books = expected if sample_ns == 0 else int(duration_s * 1e9 // sample_ns) + 2
        half = 4096
        state = _engine.new_engine(int(config.fundamental.mean_ticks) - half, 2 * half, 4096)
        super().__init__(
            config, state, fills=4096, n_records=expected, n_books=n_books, depth=depth, ctr_size=K.CTR_SIZE,
            sample_ns=sample_ns, start_ns=config.open_ns, source="simulate_abm",
        )  # fmt: skip
        self.ev = np.zeros((expected, K.EV_FIELDS), np.int64)
        n_paths = expected if path_ns == 0 else int(duration_s * 1e9 // path_ns) + 2
        self.path_ts, self.path_vals = np.zeros(n_paths, np.int64), np.zeros((n_paths, 2 * K.N_CLASSES), np.int64)
        self.path_mid = np.zeros(n_paths)
        self._agents()
        self._params()
        self._start()

    def _agents(self) -> None:
        c, counts = self.config, self.config.counts
        n = sum(counts)
        self.agents = np.zeros((n + 1, K.A_FIELDS), np.int64)
        self.agents[:n, K.A_CLASS] = np.repeat(np.arange(len(counts)), counts)
        self.agents[:n, K.A_INDEX] = np.concatenate([np.arange(k) for k in counts]) if n else []
        self.agents[:n, K.A_LATENCY] = latencies_ns(c, self.streams[0], self.streams[6])
        self.agents[:n, K.A_CASH] = c.starting_cash_ticks
        self.agents[n] = (K.EXCHANGE, 0, 0, 0, 0, -1)
        self.agents[:, K.A_HEAD] = -1
        self.totals = np.zeros((2, K.N_CLASSES), np.int64)
        self.totals[0, : len(counts)] = np.asarray(counts, np.int64) * c.starting_cash_ticks
        self.orders = np.full((max(8192, self.ev.shape[0]), K.O_FIELDS), -1, np.int64)
        self.heap = np.zeros((4 * n + 1024, K.H_FIELDS), np.int64)

    def _params(self) -> None:
        c = self.config
        f, v, m, mo = c.fundamental, c.value, c.market_maker, c.momentum
        self.fparams = np.array([
            f.mean_ticks, f.mean_reversion_per_s * 1e-9, f.volatility_ticks_per_sqrt_s**2 * 1e-9,
            f.megashock_rate_per_s * 1e-9, f.megashock_mean_ticks, math.sqrt(f.megashock_variance_ticks2),
        ])  # fmt: skip
        self.vparams = np.array([
            v.mean_reversion_per_s * 1e-9, v.shock_variance_ticks2_per_s * 1e-9, v.observation_variance_ticks2,
            v.aggressive_share, v.depth_spread, 1.0 if v.variance_update == "abides" else 0.0,
            v.latent_depth_ticks, v.latent_refresh_per_s * 1e-9, v.latent_size_lots,
            1.0 if v.latent_anchor == "price" else 0.0, v.size_mispricing_scale_ticks, v.size_mispricing_max_factor,
            v.size_mispricing_power, v.flow_learning_ticks_per_lot, 1.0 if v.flow_learning_source == "others" else 0.0,
        ])  # fmt: skip
        self.mparams = np.array([
            m.pov, m.min_order_size, m.levels, m.level_spacing, m.spread_alpha, m.price_skew_ticks,
            m.withdraw_inventory_lots, m.withdraw_move_bps, m.withdraw_size_factor, m.withdraw_spread_factor,
            m.min_half_spread_ticks, m.inventory_skew_ticks_per_lot, m.inventory_skew_max_ticks,
            *size_law(m.touch_size_weights, m.touch_size_log_mean, m.touch_size_log_sd), m.skew_prior_lots,
            1.0 if m.skew_rounding == "random" else 0.0,
            *(size_law(m.touch_ask_size_weights, m.touch_ask_size_log_mean, m.touch_ask_size_log_sd)
              if m.touch_ask_size_weights else size_law(m.touch_size_weights, m.touch_size_log_mean,
                                                       m.touch_size_log_sd))[1:],  # the ask's law, or the bid's
        ])  # fmt: skip
        if self.mparams.size != R.MP_FIELDS:  # the kernel reads the layout of _rules.MP_* unchecked
            raise RuntimeError(f"_Market: the makers' parameter vector has {self.mparams.size} entries; the "
                               f"kernel's layout (_rules.MP_*) needs {R.MP_FIELDS}")  # fmt: skip
        self.mparams = np.concatenate([self.mparams, half_spread_floors(m, c.session_s)])
        self.ip = np.zeros(K.IP_SIZE, np.int64)
        self.ip[[K.IP_OPEN, K.IP_CLOSE, K.IP_END]] = c.open_ns, self.end_ns, self.end_ns
        self.ip[[K.IP_BOOK_SAMPLE, K.IP_PATH_SAMPLE]] = self.sample_ns, self.path_ns
        self.ip[[K.IP_MM_DELAY, K.IP_MM_WINDOW]] = m.cancel_delay_ns, int(round(m.volume_window_s * 1e9))
        self.ip[[K.IP_SHORT, K.IP_LONG]] = mo.short_window, mo.long_window
        x = c.execution
        mode = {"twap": K.EXEC_TWAP, "pov": K.EXEC_POV}.get(x.strategy, K.EXEC_SCHEDULE)
        if x.volume_window_s > 0:
            mode, self.ip[K.IP_EXEC_WINDOW] = K.EXEC_POV_TRAILING, int(round(x.volume_window_s * 1e9))
        self.ip[[K.IP_EXEC_MODE, K.IP_EXEC_SIDE, K.IP_EXEC_QTY]] = mode, x.side, x.quantity_lots
        self.ip[K.IP_EXEC_START] = c.open_ns + int(round(x.start_s * 1e9))
        self.xsched = execution_schedule(x)
        self.ip[K.IP_EXEC_END] = c.open_ns + int(round((x.start_s + x.duration_s) * 1e9))
        self.ip[K.IP_EXEC_INTERVAL] = int(round(x.interval_s * 1e9))
        sl = c.stop_loss
        self.ip[[K.IP_STOP_SIDE, K.IP_STOP_QTY]] = sl.side, sl.quantity_lots
        self.ip[[K.IP_STOP_FIRST, K.IP_STOP_SPACING]] = sl.first_ticks, sl.spacing_ticks
        self.sstate = np.zeros((sl.count, 2), np.int64)
        lv = c.leveraged
        first = np.cumsum((0,) + c.counts)
        self.ip[[K.IP_LEV_SIDE, K.IP_LEV_QTY, K.IP_CASH0]] = lv.side, lv.position_lots, c.starting_cash_ticks
        self.ip[[K.IP_FIRST_STOP, K.IP_FIRST_LEV]] = (
            first[CLASS_ORDER.index("stop_loss")],
            first[CLASS_ORDER.index("leveraged")],
        )
        self.lstate = np.zeros((lv.count, 5))
        rows = lv.count * (lv.count + 2) + 4
        self.liq_i, self.liq_f = np.zeros((rows, 5), np.int64), np.zeros((rows, 2))
        fund = lv.insurance_fund_ticks  # the exchange's account holds the insurance fund
        self.agents[-1, K.A_CASH], self.totals[0, K.EXCHANGE], self.ctr[K.C_FUND_TICKS] = fund, fund, fund
        cb = c.circuit_breaker
        self.ip[[K.IP_CB_WINDOW, K.IP_CB_PAUSE]] = int(round(cb.window_s * 1e9)), int(round(cb.pause_s * 1e9))
        self.xstate = np.full((x.count, 3), _engine.NO_PRICE, np.int64)
        self.xstate[:, K.X_START_VOLUME] = -1
        self.fp = np.array(
            [
                f.mean_ticks,
                1e9 / v.arrival_rate_per_s,
                m.wake_interval_s * 1e9,
                mo.wake_interval_s * 1e9,
                x.participation,
                c.circuit_breaker.move_pct / 100.0,
                c.leveraged.leverage,
                c.leveraged.maintenance_margin,
            ]
            + self._shock_params()
            + self._clock_params()
            + size_law(c.noise.size_weights, c.noise.size_log_mean, c.noise.size_log_sd)
        )
        self.clock = self._activity_clock()
        self.vstate = np.zeros((v.count, R.V_FIELDS))
        self.vstate[:, R.V_ESTIMATE] = f.mean_ticks
        self.vprev = np.full(v.count, c.open_ns, np.int64)
        self.mstate = np.full((m.count, R.M_FIELDS), -1.0)
        self.mstate[:, R.M_SPREAD] = m.initial_spread_ticks
        self.mstate[:, R.M_HAS_MID] = 0.0
        self.mstate[:, R.M_SNAPS] = 0.0
        self.mstate[:, [R.M_VOL_BUY, R.M_VOL_SELL, R.M_VOL_COUNTED, R.M_VOL_ROW]] = 0.0
        self.mhist = np.zeros((mo.count, max(mo.long_window, mo.short_window)))
        self.mseen = np.zeros(mo.count, np.int64)
        self.fvals = np.array([f.mean_ticks, 0.0, np.nan, np.nan])
        self.ftimes = np.array([c.open_ns, c.open_ns], np.int64)
        R.next_megashock(self.streams[1], self.fvals, self.ftimes, self.fparams)
        n_fund = int(3 * v.arrival_rate_per_s * v.count * self.duration_s) + 1024
        self.fund_ts, self.fund_val = np.zeros(n_fund, np.int64), np.zeros(n_fund)
        self.fund_shocks = np.zeros(n_fund, np.int64)

    def _shock_params(self) -> list[float]:
        """Set the shocks' windows in ``ip`` (ns; -1 when off); return their float parameters (from FP_NEWS_JUMP)."""
        shocks, ns = self.config.shocks, self._shock_ns
        self.ip[[K.IP_WD_START, K.IP_WD_END, K.IP_MARK_START, K.IP_MARK_END, K.IP_PAUSE_LEN]] = -1
        news, wd, mark = shocks.news, shocks.withdrawal, shocks.mark
        if wd is not None:
            self.ip[[K.IP_WD_START, K.IP_WD_END]] = ns(wd.start_s), ns(wd.start_s + wd.duration_s)
        if mark is not None:
            self.ip[[K.IP_MARK_START, K.IP_MARK_END]] = ns(mark.start_s), ns(mark.start_s + mark.duration_s)
        if shocks.pause is not None:
            self.ip[K.IP_PAUSE_LEN] = int(round(shocks.pause.duration_s * 1e9))
        return [
            0.0 if news is None else news.jump_bps / 10_000.0,
            1.0 if wd is None else wd.size_factor,
            1.0 if wd is None else wd.spread_factor,
            1.0 if mark is None else mark.factor,
        ]

    def _clock_params(self) -> list[float]:
        """Set the splitting cap and the makers' levels in ``ip``; return the noise clock's, order splitting's, the
        makers' jitter and the noise walk's parameters (from FP_NOISE_BASE; per ns, ns, ticks). The noise agents'
        metaorder states (side, children left) are ``nstate``, one row per noise agent with the clock, none without."""
        n, m = self.config.noise, self.config.market_maker
        self.ip[[K.IP_SPLIT_MAX, K.IP_MM_LEVELS]] = n.split_max_children, m.levels
        self.ip[K.IP_MM_TOUCH] = m.touch_orders
        self.ip[K.IP_MM_OFFSET], self.ip[K.IP_MM_KEEP] = m.quote_offset_ticks, m.keep_touch_ticks
        self.ip[K.IP_MM_LAYER] = m.layer_ticks
        self.ip[K.IP_MM_SIZE_VOLUME] = SIZE_VOLUMES.index(m.size_volume)
        self.ip[K.IP_MM_KERNEL] = VOLUME_KERNELS.index(m.volume_kernel)
        self.ip[K.IP_MM_CENTRE_HL] = int(round(m.center_halflife_s * 1e9))
        self.ip[K.IP_MM_GAP] = m.post_only_gap_ticks
        self.ip[K.IP_MM_SNAP] = m.center_snap_ticks
        mean, span = (
            int(round(self.config.fundamental.mean_ticks)),
            max(K.PRICE_SPAN, int(self.config.fundamental.mean_ticks)),
        )
        self.ip[[K.IP_PRICE_LOW, K.IP_PRICE_HIGH]] = mean - span, mean + span
        self.nstate = np.zeros((n.count if n.arrival_rate_per_s > 0 else 0, 2), np.int64)
        decay = n.decay_per_s * 1e-9
        return [n.arrival_rate_per_s * 1e-9, n.excitation * decay, decay, 0.0, n.split_exponent, m.level_jitter_s * 1e9,
                float(n.walk_ticks)]  # fmt: skip

    def _activity_clock(self) -> np.ndarray:
        """The market's activity (:func:`simlab.agents._rules.activity_clock`, from the activity stream) on the cells
        of ``activity_step_s`` that cover the run, its step in ``ip`` (ns); no cells when it is off (no draw)."""
        f = self.config.fundamental
        if f.activity_sd <= 0 and not f.activity_profile:
            return np.zeros((3, 0))
        step = self.ip[K.IP_ACT_STEP] = int(round(f.activity_step_s * 1e9))
        n_cells = (self.end_ns - self.config.open_ns) // step + 1
        times = f.activity_time_s if isinstance(f.activity_time_s, tuple) else (f.activity_time_s,)
        decays = np.array([math.exp(-f.activity_step_s / time) for time in times])
        clock = R.activity_clock(self.streams[7], n_cells, decays, f.activity_sd, step)
        if f.activity_profile:  # the intraday profile: each cell's rate times its part's weight over their mean
            weights = np.asarray(f.activity_profile) / np.mean(f.activity_profile)
            starts = np.arange(n_cells) * step  # ns after the open
            part = np.minimum(starts * len(weights) // int(round(self.config.session_s * 1e9)), len(weights) - 1)
            clock[R.AC_RATE] *= weights[part]
            clock[R.AC_START] = np.concatenate([[0.0], np.cumsum(clock[R.AC_RATE, :-1] * float(step))])
        return clock

    def _start_clock(self) -> None:
        """Queue the noise clock's first event (its wait drawn from the noise stream, from no excess), if it is on
        (with the market's activity on, the wait is business time: :func:`simlab.agents._rules.calendar_ns`)."""
        if self.config.noise.arrival_rate_per_s > 0:
            fp, open_ns = self.fp, self.config.open_ns
            wait, fp[K.FP_NOISE_EXCESS] = R.hawkes_wait(
                self.streams[2], 0.0, fp[K.FP_NOISE_BASE], fp[K.FP_NOISE_JUMP], fp[K.FP_NOISE_DECAY]
            )
            at = open_ns + int(np.rint(wait))
            if self.clock.shape[1] > 0:
                at = int(R.calendar_ns(self.clock, open_ns, self.ip[K.IP_ACT_STEP], open_ns, wait))
            K.push(self.heap, self.ctr, at, K.NOISE_CLOCK, self.agents.shape[0] - 1, 0, 0, 0)

    def _shock_ns(self, seconds: float) -> int:
        return self.config.open_ns + int(round(seconds * 1e9))

    def _start_shocks(self) -> None:
        """Queue the exchange's scheduled shocks (after every agent's first wake-up): the news jump, the halt, the
        mark window's edges. A market without shocks queues nothing, so its run is what it was before shocks."""
        shocks, exchange = self.config.shocks, self.agents.shape[0] - 1
        timed = []
        if shocks.news is not None:
            timed.append((shocks.news.time_s, K.NEWS))
        if shocks.pause is not None:
            timed.append((shocks.pause.start_s, K.PAUSE))
        if shocks.mark is not None:
            timed += [(shocks.mark.start_s, K.MARK), (shocks.mark.start_s + shocks.mark.duration_s, K.MARK)]
        for seconds, kind in timed:
            K.push(self.heap, self.ctr, self._shock_ns(seconds), kind, exchange, 0, 0, 0)

    def _start(self) -> None:
        """Queue the opening book (the exchange, at the open) and every agent's first wake-up (agent id order)."""
        c, heap, ctr = self.config, self.heap, self.ctr
        exchange, book = self.agents.shape[0] - 1, c.initial_book
        bid = int(round(c.fundamental.mean_ticks)) - book.spread_ticks // 2
        for level in range(book.levels):
            K.push(heap, ctr, c.open_ns, K.LIMIT, exchange, 1, bid - level, book.qty_lots)
            K.push(heap, ctr, c.open_ns, K.LIMIT, exchange, -1, bid + book.spread_ticks + level, book.qty_lots)
        setup, first = self.streams[0], np.zeros(exchange, np.int64)
        classes = self.agents[:exchange, K.A_CLASS]
        noise = classes == K.NOISE
        first[noise] = noise_wake_ns(c, setup)
        first[noise & (first < c.open_ns)] = -1  # awake before the open: no book, no order (ABIDES)
        if c.noise.arrival_rate_per_s > 0:  # the noise clock wakes them instead (the draws above are kept: CRN)
            first[noise] = -1
        for cls, wait_s in ((K.VALUE, 1 / c.value.arrival_rate_per_s), (K.MAKER, c.market_maker.wake_interval_s),
                            (K.MOMENTUM, c.momentum.wake_interval_s)):  # fmt: skip
            mask = classes == cls
            waits = np.rint(setup.exponential(wait_s * 1e9, int(mask.sum())))
            if self.clock.shape[1] > 0:  # in business time with the market's activity on (the same draws)
                step = self.ip[K.IP_ACT_STEP]
                waits = np.array([R.calendar_ns(self.clock, c.open_ns, step, c.open_ns, w) - c.open_ns for w in waits])
            first[mask] = c.open_ns + waits.astype(np.int64)
        first[classes == K.EXECUTION] = c.open_ns + int(round(c.execution.start_s * 1e9))
        first[classes == K.STOP] = c.open_ns + int(round(c.stop_loss.start_s * 1e9))
        lv = c.leveraged
        first[classes == K.LEVERAGED] = c.open_ns + np.rint((lv.start_s + lv.stagger_s * np.arange(lv.count)) * 1e9)
        self.idle_noise = int((noise & (first < 0)).sum()) if c.noise.arrival_rate_per_s == 0 else 0
        for agent in np.flatnonzero(first >= 0):
            K.push(heap, ctr, int(first[agent]), K.WAKE, int(agent), 0, 0, 0)
        self._start_shocks()
        self._start_clock()

    def run(self) -> None:
        """Process every message up to the end of the session, growing the buffers when short."""
        gens = tuple(self.streams[1:6])
        params = (self.vstate, self.vprev, self.vparams, self.mstate, self.mparams, self.mhist, self.mseen,
                  self.fvals, self.ftimes, self.fparams, R.SIZE_CUMULATIVE, self.fund_ts, self.fund_val,
                  self.fund_shocks, self.xstate, self.sstate, self.lstate, self.liq_i, self.liq_f,
                  self.xsched, self.nstate, self.clock)  # fmt: skip
        while True:
            rec = (self.ev, self.books, self.book_ts, self.path_ts, self.path_vals, self.path_mid)
            status, self.state = _loop.run(
                self.state, self.out, gens, self.heap, self.ctr, self.agents, self.orders, self.totals, self.ip,
                self.fp, params, rec,
            )  # fmt: skip
            if status == K.DONE:
                return
            if status == K.RUNAWAY:
                raise ParameterError(self._runaway())
            params = self._grow(params)

    def _runaway(self) -> str:
        """The sentence for a market whose limit order (left in the heap's first unused row) is off the price range."""
        t, _, _, agent, _, price, _ = self.heap[self.ctr[K.C_HEAP]]
        cls = CLASS_ORDER[int(self.agents[agent, K.A_CLASS])] if agent < self.agents.shape[0] - 1 else "exchange"
        low, high = self.ip[K.IP_PRICE_LOW], self.ip[K.IP_PRICE_HIGH]
        return (
            f"market {self.config.name!r} ran away at {(t - self.config.open_ns) / 1e9:.3f} s: a {cls} agent's limit "
            f"order (agent {agent}) is priced {price} ticks, outside [{low}, {high}] (fundamental.mean_ticks -+ "
            f"max({K.PRICE_SPAN}, mean_ticks)), where a quoted book keeps its prices; a typical cause is makers whose "
            "own ladder sets the spread, so their smoothed spread estimate grows about level_spacing-fold at each "
            "look (market_maker.level_spacing x the estimate between levels): lower market_maker.level_spacing or "
            "add resting liquidity near the price"
        )

    def _grow(self, params: tuple) -> tuple:
        c = self.config
        ladder = c.market_maker.levels + max(c.market_maker.touch_orders, 1) - 1  # orders on one side of a ladder
        need = _loop.needs(self.state, self.ctr, ladder + c.stop_loss.count + 2 * c.leveraged.count)
        self.ev = _sim.grow_rows(self.ev, need[0])
        if self.sample_ns == 0:
            self.books, self.book_ts = (
                _sim.grow_books(self.books, need[0]),
                _sim.grow_rows(self.book_ts, need[0]),
            )
        if self.path_ns == 0:
            self.path_ts, self.path_mid = (
                _sim.grow_rows(self.path_ts, need[1]),
                _sim.grow_rows(self.path_mid, need[1]),
            )
            self.path_vals = _sim.grow_rows(self.path_vals, need[1])
        if need[2] > self.orders.shape[0]:
            grown = np.full((2 * need[2], K.O_FIELDS), -1, np.int64)
            grown[: self.orders.shape[0]] = self.orders
            self.orders = grown
        self.heap = _sim.grow_rows(self.heap, need[3])
        if need[4] > self.out[0].shape[0]:
            self.out = _engine.grow_fills(self.out, 2 * need[4])
        if need[5] > self.fund_ts.shape[0]:
            self.fund_ts, self.fund_val = (
                _sim.grow_rows(self.fund_ts, 2 * need[5]),
                _sim.grow_rows(self.fund_val, 2 * need[5]),
            )
            self.fund_shocks = _sim.grow_rows(self.fund_shocks, 2 * need[5])
        return params[:11] + (self.fund_ts, self.fund_val, self.fund_shocks) + params[14:]

    def counts(self) -> dict[str, Any]:
        """The run's counts: wake-ups and orders per class, messages, grows, megashocks."""
        ctr = self.ctr
        out: dict[str, Any] = {f"wakeups_{name}": int(ctr[K.C_WAKES + i]) for i, name in enumerate(CLASS_ORDER)}
        out.update({f"orders_{name}": int(ctr[K.C_ORDERS + i]) for i, name in enumerate(CLASS_ORDER)})
        out.update({f"zero_size_{name}": int(ctr[K.C_SIZE_ZERO + i]) for i, name in enumerate(CLASS_ORDER)})
        out.update(
            agent_wakeups=int(ctr[K.C_WAKES : K.C_WAKES + len(CLASS_ORDER)].sum()),
            book_events=int(ctr[_sim.C_EVENTS]),
            messages=int(ctr[K.C_SEQ]),
            idle_noise_agents=self.idle_noise,
            megashocks=int(ctr[K.C_SHOCKS]),
            halts=int(ctr[K.C_HALTS]),
            maker_withdrawals=int(ctr[K.C_WITHDRAWALS]),
            forced_withdrawals=int(ctr[K.C_FORCED]),
            net_flow_lots=int(ctr[K.C_FLOW]),
            net_flow_others_lots=int(ctr[K.C_FLOW_OTHERS]),
            engine_grows=int(ctr[_sim.C_GROWS]),
        )
        return out

    def datasets(self) -> dict[str, xr.Dataset]:
        """The events, books, per-class paths and fundamental looks, each with the provenance and the counts."""
        c = self.config
        entropy, spawn_key = self.root_entropy  # the root seed and, for a market of many, its child's key
        shown_seed = int(entropy) if isinstance(entropy, int) else None
        run = dict(duration_s=self.duration_s, sample_ns=self.sample_ns or None, path_sample_ns=self.path_ns or None)
        attrs = provenance(seed=shown_seed, config=dict(c.to_dict(), run=run), true_params=c.to_dict())
        attrs.update(self.counts(), model="agent_based", seed_spawn_key=list(spawn_key))
        attrs.update(agent_classes=list(CLASS_NAMES))
        attrs.update(agent_counts=list(c.counts), end_ns=self.end_ns)
        labels = dict(tick_size=c.tick_size, lot_size=c.lot_size, instrument=c.instrument, venue=c.venue)
        out = {
            "events": self._events(attrs, labels),
            "books": self._books(attrs, labels),
            "paths": self._paths(attrs),
            "fundamental": self._fundamental(attrs),
        }
        if c.execution.count:
            out["execution"] = execution_report(self, attrs)
        if c.leveraged.count:
            out["liquidations"] = liquidation_report(self, attrs)
        return out

    def _events(self, attrs: dict, labels: dict) -> xr.Dataset:
        from simlab.schema import make_events

        ev = self.ev[: int(self.ctr[_sim.C_EVENTS])]
        return make_events(
            ts_ns=ev[:, _sim.EV_TS], kind=ev[:, _sim.EV_KIND], side=ev[:, _sim.EV_SIDE],
            price_ticks=ev[:, _sim.EV_PRICE], qty_lots=ev[:, _sim.EV_QTY], order_id=ev[:, _sim.EV_ID],
            agent_id=ev[:, K.EV_AGENT].astype(np.int32),
            extra={"passive_agent_id": ev[:, K.EV_PASSIVE_AGENT].astype(np.int32),
                   "aggressor_order_id": ev[:, K.EV_AGGRESSOR_ID].copy()},
            attrs=attrs, source=self.source, **labels,
        )  # fmt: skip

    def _books(self, attrs: dict, labels: dict) -> xr.Dataset:
        from simlab.schema import make_books

        m = int(self.ctr[_sim.C_BOOKS])
        b = self.books
        return make_books(
            ts_ns=self.book_ts[:m], bid_price=b[0, :m], bid_qty=b[1, :m], ask_price=b[2, :m], ask_qty=b[3, :m],
            attrs=dict(attrs, **labels), source=self.source,
        )  # fmt: skip

    def _paths(self, attrs: dict) -> xr.Dataset:
        n = int(self.ctr[K.C_PATHS])
        cash, inventory = self.path_vals[:n, : K.N_CLASSES], self.path_vals[:n, K.N_CLASSES :]
        mid = self.path_mid[:n]
        start = np.asarray(self.config.counts + (0,), np.int64) * self.config.starting_cash_ticks
        start[-1] = self.config.leveraged.insurance_fund_ticks
        marked = forward_fill(mid)
        pnl = cash - start + inventory * marked[:, None]
        dims = ("time", "agent_class")
        return xr.Dataset(
            {
                "cash_ticks_lots": (dims, cash.copy()),
                "inventory_lots": (dims, inventory.copy()),
                "pnl_ticks_lots": (dims, pnl),
                "mid_ticks": ("time", mid.copy()),
            },
            coords={"ts_ns": ("time", self.path_ts[:n].copy()), "agent_class": np.arange(len(CLASS_NAMES))},
            attrs=dict(attrs, pnl="cash - starting cash + inventory x the last mid (ticks x lots)"),
        )

    def _fundamental(self, attrs: dict) -> xr.Dataset:
        n = int(self.ctr[K.C_FUND])
        news = self.config.shocks.news
        if news is not None:  # the value just before and after the jump (NaN when the run ended before it)
            attrs = dict(attrs, news_ts_ns=self._shock_ns(news.time_s), news_jump_bps=news.jump_bps,
                         news_before_ticks=float(self.fvals[R.F_NEWS_BEFORE]),
                         news_after_ticks=float(self.fvals[R.F_NEWS_AFTER]))  # fmt: skip
        return xr.Dataset(
            {"value_ticks": ("look", self.fund_val[:n].copy()), "megashocks": ("look", self.fund_shocks[:n].copy())},
            coords={"ts_ns": ("look", self.fund_ts[:n].copy())},
            attrs=attrs,
        )


def forward_fill(values: np.ndarray) -> np.ndarray:
    """``values`` with each NaN replaced by the last value before it (NaN before the first value)."""
    index = np.where(np.isnan(values), 0, np.arange(values.shape[0]))
    np.maximum.accumulate(index, out=index)
    filled = values[index]
    if values.shape[0] and np.isnan(values[0]):
        filled[: np.argmax(~np.isnan(values)) if (~np.isnan(values)).any() else values.shape[0]] = np.nan
    return filled
