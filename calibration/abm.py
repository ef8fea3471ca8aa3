"""Calibrate the agent-based market (:mod:`simlab.agents`) to a real window by the method of simulated moments.

The fitted parameters are a few keys of the market config (dotted names, e.g. ``value.arrival_rate_per_s``),
searched on a transformed scale (log for positive quantities, logit for shares in (0, 1)). Each candidate is
simulated from the same ``n_paths`` child seeds of one root seed (common random numbers), so the objective moves
smoothly with the parameters: a coarse Latin-hypercube search, then Nelder-Mead from its best point. Each path runs
``warmup_s`` seconds from its open, and its next ``window_s`` seconds are cut and summarised like the real window.

Moments (:data:`MOMENTS`), from blocks of ``block_s`` seconds: the spread law (mean, median, 90 % quantile, in
ticks, over book records with both sides quoted), mean log L1 depth, mean and standard deviation of the log10
inter-arrival time of events (positive gaps within a block; the share of zero gaps is its own moment), excess
kurtosis of block returns (1-min with the default ``block_s``), lag-1 ACF of |10-s mid returns|, lag-1 ACF of
trade signs, and the event-type mix (shares of adds and trades among adds, cancels/deletes and trades; hidden
trades count as trades), and the scale of price moves: the standard deviations of 10-s mid log returns and of
the block returns, in bps (kurtosis and the ACF of |r| are scale-free, so without these nothing pins the
fundamental's volatility to the real market's realised volatility). The weights are the inverse bootstrap variances
of the real moments (blocks resampled with replacement). Standard errors are the sandwich (asymptotic MSM) ones from
a central-difference Jacobian of the simulated moments, inflated by ``1 + 1 / n_paths`` for the simulation noise,
mapped to natural units by the delta method. The sandwich's middle is the moments' covariance across
``n_sigma_paths`` fresh simulated windows at the estimate (``std_errors_``): the block bootstrap of the one real
window misses the variability between windows (the fundamental's path sets a window's spread regime) and gives
standard errors several times too small (``bootstrap_std_errors_``, kept for comparison; the recovery test fails
with them).

Every simulated path is one :class:`PathRun` given to :func:`simulate_path_moments` through the estimator's
``mapper`` (a ``map``-like callable, :func:`serial_map` by default): the Latin-hypercube candidates, the Jacobian's
and the sandwich's paths each go as one call, so that a parallel mapper (the sweep runner's Dask cluster,
:class:`scenarios.sweep.cluster.ClusterMap`) runs them at once. Each path carries its own seed, so the estimate does
not depend on the mapper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import minimize
from scipy.stats import qmc

from simlab.agents import MarketConfig, simulate_abm
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind
from simlab.store import write_text_atomic

MOMENTS = (
    "spread_mean_ticks",
    "spread_q50_ticks",
    "spread_q90_ticks",
    "log_depth_l1",
    "log10_gap_mean",
    "log10_gap_std",
    "zero_gap_share",
    "return_kurtosis",
    "acf_abs_return_10s",
    "acf_trade_sign",
    "add_share",
    "trade_share",
    "return_sd_10s_bps",
    "return_sd_block_bps",
)
DEFAULT_PARAMETERS = (
    "fundamental.volatility_ticks_per_sqrt_s",
    "value.arrival_rate_per_s",
    "value.aggressive_share",
    "market_maker.pov",
    "market_maker.wake_interval_s",
)


@dataclass(frozen=True)
class MomentSet:
    """The moments a window is summarised by: their ``names``, ``blocks(data, block_s)`` cutting a window into
    blocks of raw arrays, ``moments(blocks)`` the moment vector, and per moment the smallest variance its weight
    uses (``variance_floor``; 0: a moment whose bootstrap variance is 0 is left out of the objective)."""

    names: tuple[str, ...]
    blocks: Callable[[dict[str, xr.Dataset], float], list[dict[str, np.ndarray]]]
    moments: Callable[[list[dict[str, np.ndarray]]], np.ndarray]
    variance_floor: tuple[float, ...]


SETTINGS = ("warmup_s", "window_s", "block_s", "n_paths", "seed", "n_boot", "n_lhs", "lhs_span", "maxfev",
            "jacobian_step", "n_sigma_paths")  # fmt: skip
# Parameters searched on the logit scale: only true shares of one whole. The makers' `pov` is not one: a maker's lots
# per level are `pov` times the volume of its kernel, so a short kernel (abm-amzn-v28's 4 s) needs `pov` > 1; on the
# logit scale the search held it at 0.918 with the sizes -8.8 SE off (docs/agents_volume_kernel.md, section 11).
SHARES = {"value.aggressive_share", "noise.excitation"}
_TRADES = (EventKind.TRADE, EventKind.TRADE_HIDDEN)
_CANCELS = (EventKind.CANCEL, EventKind.DELETE)


# ---------------------------------------------------------------------------------------------------------- moments
def window_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """Cut a window (``events`` and ``books``, rows in time order) into blocks of ``block_s`` seconds.

    Returns one dict of raw arrays per block (spreads, log depths, log10 gaps, zero-gap count, the block return,
    10-s returns, trade signs, event-type counts) from which :func:`moments_of` computes the moments.
    """
    events, books = data["events"], data["books"]
    ts, kind = events["ts_ns"].values, events["kind"].values
    bts = books["ts_ns"].values
    if ts.size < 2 or bts.size < 2:
        raise DataError(f"window_blocks: the window holds {ts.size} events and {bts.size} book records; need >= 2")
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    bq, aq = books["bid_qty"].values[:, 0], books["ask_qty"].values[:, 0]
    quoted = (bq > 0) & (aq > 0)
    mid = np.where(quoted, 0.5 * (bid + ask), np.nan)
    step = int(block_s * 1e9)
    edges = np.arange(ts[0], ts[-1] + 1, step)
    blocks = []
    for start in edges[:-1] if edges.size > 1 else edges:
        e = slice(*np.searchsorted(ts, [start, start + step]))
        b = slice(*np.searchsorted(bts, [start, start + step]))
        blocks.append(_block(ts[e], kind[e], events["side"].values[e], bts[b], mid[b], quoted[b], bid[b], ask[b],
                             bq[b], aq[b]))  # fmt: skip
    return blocks


def _block(ts, kind, side, bts, mid, quoted, bid, ask, bq, aq) -> dict[str, np.ndarray]:
    gaps = np.diff(ts) / 1e9
    grid = np.arange(bts[0], bts[-1], 10_000_000_000) if bts.size else np.zeros(0, np.int64)
    mids = _last_valid(bts, mid, grid)
    good = mids[~np.isnan(mids)]
    trades = np.isin(kind, _TRADES)
    return {
        "spread": (ask - bid)[quoted].astype(float),
        "log_depth": np.log(0.5 * (bq + aq)[quoted].astype(float)),
        "log_gap": np.log10(gaps[gaps > 0]),
        "zero_gaps": np.array([np.sum(gaps == 0), gaps.size]),
        "block_return": np.array([np.log(good[-1] / good[0])]) if good.size > 1 else np.zeros(0),
        "r10": np.diff(np.log(good)),
        "sign": side[trades].astype(float),
        "mix": np.array([np.sum(kind == EventKind.ADD), np.sum(np.isin(kind, _CANCELS)), trades.sum()]),
    }


def _last_valid(ts: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The last non-NaN value at or before each grid time (NaN before the first)."""
    ok = ~np.isnan(values)
    ts, values = ts[ok], values[ok]
    if values.size == 0:
        return np.full(grid.shape, np.nan)
    at = np.searchsorted(ts, grid, side="right") - 1
    return np.where(at >= 0, values[np.maximum(at, 0)], np.nan)


def _acf1(series: list[np.ndarray]) -> float:
    """Lag-1 autocorrelation pooled over series (pairs within a series; mean and variance over all values); NaN
    when undefined (no pair, or no variation)."""
    values = np.concatenate(series)
    if values.size < 2 or values.var() == 0:
        return float("nan")
    centred = [s - values.mean() for s in series]
    pairs = np.concatenate([c[1:] * c[:-1] for c in centred])
    return float(pairs.mean() / values.var()) if pairs.size else float("nan")


def moments_of(blocks: list[dict[str, np.ndarray]]) -> np.ndarray:
    """Return the moment vector (:data:`MOMENTS`) of a list of blocks (:func:`window_blocks`)."""
    cat = {key: np.concatenate([b[key] for b in blocks]) for key in ("spread", "log_depth", "log_gap")}
    spread = cat["spread"] if cat["spread"].size else np.array([np.nan])
    returns = np.concatenate([b["block_return"] for b in blocks])
    centred = returns - returns.mean() if returns.size else returns
    var = np.mean(centred**2) if returns.size else 0.0
    kurtosis = float(np.mean(centred**4) / var**2 - 3.0) if var > 0 else float("nan")
    zeros = np.sum([b["zero_gaps"] for b in blocks], axis=0)
    mix = np.sum([b["mix"] for b in blocks], axis=0).astype(float)
    mix = mix / max(mix.sum(), 1.0)
    r10 = np.concatenate([b["r10"] for b in blocks])
    return np.array([
        spread.mean(), np.quantile(spread, 0.5), np.quantile(spread, 0.9),
        cat["log_depth"].mean() if cat["log_depth"].size else np.nan,
        cat["log_gap"].mean(), cat["log_gap"].std(), zeros[0] / max(zeros[1], 1), kurtosis,
        _acf1([np.abs(b["r10"]) for b in blocks]), _acf1([b["sign"] for b in blocks]), mix[0], mix[2],
        1e4 * r10.std() if r10.size > 1 else np.nan, 1e4 * np.sqrt(var) if returns.size > 1 else np.nan,
    ])  # fmt: skip


LOBSTER_MOMENTS = MomentSet(MOMENTS, window_blocks, moments_of, (0.0,) * len(MOMENTS))


def bootstrap_moments(
    blocks: list[dict[str, np.ndarray]], n_boot: int, rng: np.random.Generator, moments: Callable = moments_of
) -> np.ndarray:
    """Return ``(n_boot, n_moments)`` moments (``moments(blocks)``) of the blocks resampled with replacement."""
    picks = rng.integers(0, len(blocks), size=(n_boot, len(blocks)))
    return np.array([moments([blocks[i] for i in pick]) for pick in picks])


# ------------------------------------------------------------------------------------------------- parameter space
def get_parameter(config: MarketConfig, name: str) -> float:
    """Return the value of the dotted parameter ``name`` (``table.key``) of a market config."""
    table, key = _split(config, name)
    return float(getattr(getattr(config, table), key))


def with_parameters(config: MarketConfig, values: dict[str, float | str]) -> MarketConfig:
    """Return ``config`` with the dotted parameters of ``values`` replaced: a number, or a name for a named rule (a
    setting whose value is a string, e.g. ``market_maker.skew_rounding``). The keys of one table are replaced
    together, so that table's checks see them all at once (a rule and the setting it needs, in any order)."""
    tables: dict[str, dict[str, float | str]] = {}
    for name, value in values.items():
        table, key = _split(config, name)
        named = isinstance(getattr(getattr(config, table), key), str)
        tables.setdefault(table, {})[key] = value if named else float(value)
    for table, keys in tables.items():
        config = replace(config, **{table: replace(getattr(config, table), **keys)})
    return config


def _split(config: MarketConfig, name: str) -> tuple[str, str]:
    table, _, key = name.partition(".")
    if not hasattr(config, table) or not hasattr(getattr(config, table), key):
        raise ParameterError(f"AgentMarketEstimator: parameter {name!r} is not a `table.key` of the market config "
                             f"(e.g. {', '.join(DEFAULT_PARAMETERS)})")  # fmt: skip
    return table, key


def to_free(name: str, value: float) -> float:
    """Map a parameter to the unbounded search scale (logit for shares, log otherwise)."""
    if value <= 0 or (name in SHARES and value >= 1):
        raise ParameterError(f"AgentMarketEstimator: parameter {name} must be in (0, 1) for a share, > 0 otherwise; "
                             f"got {value}")  # fmt: skip
    return float(np.log(value / (1 - value)) if name in SHARES else np.log(value))


def from_free(name: str, z: float) -> float:
    """Inverse of :func:`to_free`."""
    return float(1 / (1 + np.exp(-z)) if name in SHARES else np.exp(z))


def _dvalue_dz(name: str, value: float) -> float:
    return value * (1 - value) if name in SHARES else value


# ------------------------------------------------------------------------------------------------ simulated paths
@dataclass(frozen=True)
class PathRun:
    """One simulated path of a candidate: the market, the root seed and the path's spawn key, the seconds simulated
    from the open, the window ``[start_ns, end_ns)`` cut into blocks of ``block_s`` seconds, and the moment set."""

    config: MarketConfig
    seed: int | tuple[int, ...]
    market: tuple[int, ...]
    duration_s: float
    start_ns: int
    end_ns: int
    block_s: float
    moment_set: MomentSet = LOBSTER_MOMENTS


def simulate_path_moments(run: PathRun) -> np.ndarray | str:
    """Simulate one path and return its window's moments (``run.moment_set``), or the error sentence when the window
    has none (too few events, no two-sided book)."""
    result = simulate_abm(run.config, seed=run.seed, market=run.market, duration_s=run.duration_s)
    moments = run.moment_set
    try:
        return moments.moments(moments.blocks(cut_window(result, run.start_ns, run.end_ns), run.block_s))
    except DataError as exc:
        return str(exc)


def _raise_missing(moments: np.ndarray | str) -> np.ndarray:
    """The path moments, or the DataError of a path without moments."""
    if isinstance(moments, str):
        raise DataError(moments)
    return moments


def _defined_mean(moments: np.ndarray | str, n_moments: int) -> np.ndarray:
    """Each moment's mean over the paths where it is defined (NaN where no path holds it, and everywhere for a
    candidate with a path without moments, given as its error sentence)."""
    if isinstance(moments, str):
        return np.full(n_moments, np.nan)
    defined = np.isfinite(moments)
    count = defined.sum(axis=0)
    total = np.where(defined, moments, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def serial_map(function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """Return ``[function(item) for item in items]`` in this process: the estimator's default mapper."""
    return [function(item) for item in items]


# ------------------------------------------------------------------------------------------------------ estimator
class AgentMarketEstimator:
    """Fit parameters of an agent-based market to a real window by simulated moments with common random numbers.

    Parameters
    ----------
    config
        The market to calibrate (populations, instrument, fundamental level); its ``open_ns`` is set by ``fit`` to
        the window's first event minus ``warmup_s`` (also in ``params_``).
    parameters
        Dotted names of the fitted parameters (:data:`DEFAULT_PARAMETERS`); the config's values start the search.
    warmup_s, window_s, block_s
        Seconds simulated before the window, the window's length, and the blocks of the moments and the bootstrap.
    n_paths
        Simulated paths per candidate (the same child seeds of ``seed`` for every candidate).
    seed
        Root seed of the simulations and the bootstrap.
    n_boot
        Bootstrap resamples of the real blocks (the weights and the sandwich's middle).
    n_lhs, lhs_span
        Latin-hypercube points of the coarse search, in a box of +- ``lhs_span`` around the start on the free scale.
    maxfev
        Objective evaluations of the Nelder-Mead refinement.
    jacobian_step
        Central-difference step of the Jacobian on the free scale.
    n_sigma_paths
        Fresh simulated windows at the estimate whose moment covariance is the sandwich's middle (``std_errors_``);
        ``bootstrap_std_errors_`` use the block bootstrap of the real window instead.
    moments
        The moment set (:data:`LOBSTER_MOMENTS`, the default; :data:`calibration.abm_crypto.CRYPTO_MOMENTS` for a
        Binance L2 + trades capture).
    mapper
        ``mapper(function, items) -> list`` running :func:`simulate_path_moments` over the paths (default
        :func:`serial_map`; e.g. the sweep runner's :class:`scenarios.sweep.cluster.ClusterMap`). It changes where
        the paths run, not the estimate.
    """

    def __init__(self, config: MarketConfig, *, parameters: tuple[str, ...] = DEFAULT_PARAMETERS,
                 warmup_s: float = 9000.0, window_s: float = 1800.0, block_s: float = 60.0, n_paths: int = 4,
                 seed: int = 0, n_boot: int = 200, n_lhs: int = 24, lhs_span: float = 1.0, maxfev: int = 120,
                 jacobian_step: float = 0.1, n_sigma_paths: int = 16,
                 moments: MomentSet = LOBSTER_MOMENTS,
                 mapper: Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]] | None = None) -> None:  # fmt: skip
        self.config, self.parameters, self.warmup_s, self.window_s = config, parameters, warmup_s, window_s
        self.block_s, self.n_paths, self.seed, self.n_boot = block_s, n_paths, seed, n_boot
        self.n_lhs, self.lhs_span, self.maxfev, self.jacobian_step = n_lhs, lhs_span, maxfev, jacobian_step
        self.n_sigma_paths, self.moment_set, self.mapper = n_sigma_paths, moments, mapper

    def fit(self, data: dict[str, xr.Dataset]) -> AgentMarketEstimator:
        """Fit the parameters to the real window ``data`` (``events`` and ``books``); return ``self``."""
        self._check()
        ms = self.moment_set
        blocks = ms.blocks(data, self.block_s)
        root = np.random.SeedSequence(self.seed)
        boot_seq, sigma_seq, *paths = root.spawn(self.n_paths + 2)
        self._sigma_paths = [tuple(c.spawn_key) for c in sigma_seq.spawn(int(self.n_sigma_paths))]
        self.real_moments_ = ms.moments(blocks)
        if np.isnan(self.real_moments_).any():
            missing = [m for m, v in zip(ms.names, self.real_moments_, strict=True) if np.isnan(v)]
            raise DataError(f"AgentMarketEstimator.fit: the real window has no value for the moments {missing} "
                            f"(too few events, trades or two-sided book records)")  # fmt: skip
        boot = bootstrap_moments(blocks, self.n_boot, np.random.default_rng(boot_seq), ms.moments)
        boot = boot[~np.isnan(boot).any(axis=1)]  # a resample without a defined moment (e.g. one trade) is left out
        self.n_boot_used_ = int(boot.shape[0])
        self.moment_covariance_ = np.cov(boot.T)
        variance = np.maximum(np.diag(self.moment_covariance_), ms.variance_floor)
        self.used_moments_ = tuple(m for m, v in zip(ms.names, variance, strict=True) if v > 0)
        self._used = np.array([v > 0 for v in variance])
        self._weights = 1.0 / variance[self._used]
        self._start_ns = int(data["events"]["ts_ns"].values[0])
        self._base = replace(self.config, open_ns=self._start_ns - int(round(self.warmup_s * 1e9)))
        self._paths, self.n_evaluations_ = [tuple(c.spawn_key) for c in paths], 0
        z_hat = self._optimise()
        self._finish(z_hat)
        return self

    def _check(self) -> None:
        for name in ("warmup_s", "window_s", "block_s"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"AgentMarketEstimator: {name} must be > 0; got {getattr(self, name)}")
        if self.block_s > self.window_s:
            raise ParameterError(f"AgentMarketEstimator: block_s ({self.block_s}) must be <= window_s "
                                 f"({self.window_s})")  # fmt: skip
        for name in ("n_paths", "n_boot", "n_lhs", "n_sigma_paths"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"AgentMarketEstimator: {name} must be >= 1; got {getattr(self, name)}")
        if not self.parameters:
            raise ParameterError("AgentMarketEstimator: `parameters` names no parameter to fit")
        for name in self.parameters:
            get_parameter(self.config, name)

    def _config_at(self, z: np.ndarray) -> MarketConfig:
        values = {n: from_free(n, v) for n, v in zip(self.parameters, z, strict=True)}
        return with_parameters(self._base, values)

    def simulated_moments(self, z: np.ndarray, paths: list | None = None) -> np.ndarray:
        """Mean moments over the common paths (or the spawn keys ``paths`` of ``seed``) at free-scale parameters
        ``z``."""
        return np.mean(self._path_moments(z, self._paths if paths is None else paths), axis=0)

    def _path_moments(self, z: np.ndarray, paths: list) -> np.ndarray:
        """``(len(paths), len(MOMENTS))``: each path's window moments at free-scale parameters ``z``."""
        return _raise_missing(self._candidates([z], paths)[0])

    def _candidates(self, zs: Sequence[np.ndarray], paths: list) -> list[np.ndarray | str]:
        """Each candidate's ``(len(paths), len(MOMENTS))`` path moments, or the sentence of a path without moments;
        every path of every candidate goes to the mapper in one call."""
        end = self._start_ns + int(round(self.window_s * 1e9))
        duration_s = self.warmup_s + self.window_s
        runs = [PathRun(self._config_at(z), self.seed, key, duration_s, self._start_ns, end, self.block_s,
                        self.moment_set) for z in zs for key in paths]  # fmt: skip
        out = (self.mapper or serial_map)(simulate_path_moments, runs)
        self.n_evaluations_ += len(zs)
        rows = [out[i * len(paths) : (i + 1) * len(paths)] for i in range(len(zs))]
        return [next((r for r in row if isinstance(r, str)), None) or np.array(row) for row in rows]

    def _objectives(self, zs: Sequence[np.ndarray]) -> list[float]:
        """The weighted distance of each candidate; one whose window has no moments (too few events, no two-sided
        book) is worse than any other (1e12)."""
        values = []
        for moments in self._candidates(zs, self._paths):
            if isinstance(moments, str):
                values.append(1e12)
                continue
            g = (np.mean(moments, axis=0) - self.real_moments_)[self._used]
            value = float(np.sum(self._weights * g**2))
            values.append(value if np.isfinite(value) else 1e12)
        return values

    def _objective(self, z: np.ndarray) -> float:
        return self._objectives([z])[0]

    def _optimise(self) -> np.ndarray:
        z0 = np.array([to_free(n, get_parameter(self.config, n)) for n in self.parameters])
        sampler = qmc.LatinHypercube(d=z0.size, seed=np.random.default_rng(self.seed))
        points = np.vstack([z0, z0 + self.lhs_span * (2 * sampler.random(int(self.n_lhs)) - 1)])
        values = self._objectives(points)
        best = points[int(np.argmin(values))]
        result = minimize(
            self._objective,
            best,
            method="Nelder-Mead",
            options={
                "maxfev": int(self.maxfev),
                "xatol": 0.02,
                "fatol": 1e-3,
                "initial_simplex": best + np.vstack([np.zeros(z0.size), 0.3 * np.eye(z0.size)]),
            },
        )
        self.search_ = {"lhs_points": points.tolist(), "lhs_objective": values, "nelder_mead_success": bool(
            result.success), "nelder_mead_message": str(result.message)}  # fmt: skip
        return result.x if result.fun <= min(values) else best

    def _finish(self, z_hat: np.ndarray) -> None:
        """Store the estimates, the simulated moments and the sandwich standard errors at ``z_hat``.

        Each shifted candidate's moments are averaged over the paths where they are defined (a sparse window can hold
        no value for a moment on one path, e.g. the 1-min kurtosis); a moment whose Jacobian is still undefined (no
        path of a shifted candidate holds it) is left out of the sandwich and listed in
        ``moments_without_jacobian_``."""
        h, k = self.jacobian_step, z_hat.size
        steps = h * np.eye(k)
        shifted = self._candidates([z_hat + sign * steps[j] for j in range(k) for sign in (1, -1)], self._paths)
        means = [_defined_mean(m, len(self.moment_set.names)) for m in shifted]
        full = np.array([(means[2 * j] - means[2 * j + 1]) / (2 * h) for j in range(k)]).T[self._used]
        ok = np.isfinite(full).all(axis=1)
        self.moments_without_jacobian_ = [n for n, o in zip(self.used_moments_, ok, strict=True) if not o]
        if not ok.any():
            raise DataError(f"AgentMarketEstimator: no used moment has a Jacobian at the estimate {z_hat.tolist()} "
                            f"(every shifted candidate lacks them on every path): no standard error")  # fmt: skip
        jac, w = full[ok], np.diag(self._weights[ok])
        bread = np.linalg.pinv(jac.T @ w @ jac)
        fresh = self._path_moments(z_hat, self._sigma_paths)
        self.path_moment_covariance_ = np.cov(fresh[~np.isnan(fresh).any(axis=1)].T)
        covs = []
        for cov in (self.path_moment_covariance_, self.moment_covariance_):
            sigma = cov[np.ix_(self._used, self._used)][np.ix_(ok, ok)]
            covs.append((1 + 1 / self.n_paths) * bread @ jac.T @ w @ sigma @ w @ jac @ bread)
        self._store_fit(z_hat, jac, covs)

    def _store_fit(self, z_hat: np.ndarray, jac: np.ndarray, covs: list[np.ndarray]) -> None:
        """Set the fitted attributes from the free estimate, its Jacobian and the sandwich covariances (paths' and
        bootstrap's, in the free coordinates)."""
        self.moments_ = self.simulated_moments(z_hat)
        self.objective_ = float(np.sum(self._weights * (self.moments_ - self.real_moments_)[self._used] ** 2))
        self.jacobian_, self.free_covariance_ = jac, covs[0]
        self.estimates_ = {n: from_free(n, z) for n, z in zip(self.parameters, z_hat, strict=True)}
        grad = np.array([_dvalue_dz(n, v) for n, v in self.estimates_.items()])
        se = [grad * np.sqrt(np.maximum(np.diag(c), 0.0)) for c in covs]
        self.std_errors_ = dict(zip(self.parameters, se[0].tolist(), strict=True))
        self.bootstrap_std_errors_ = dict(zip(self.parameters, se[1].tolist(), strict=True))
        self.free_estimates_ = z_hat
        self.params_ = with_parameters(self._base, self.estimates_)  # the clock of the fitted window's day

    def _fitted(self) -> MarketConfig:
        if not hasattr(self, "params_"):
            raise ParameterError("AgentMarketEstimator is not fitted yet; call fit(data) first")
        return self.params_

    def simulator(self):
        """Return ``simulate(seed, duration_s=None, **options)`` running :func:`simulate_abm` on ``params_``."""
        params = self._fitted()

        def simulate(seed: Any, duration_s: float | None = None, **options: Any) -> dict[str, xr.Dataset]:
            return simulate_abm(params, seed=seed, duration_s=duration_s, **options)

        return simulate

    def moment_table(self) -> dict[str, dict[str, float]]:
        """Return, per moment, the real value, its bootstrap standard error, the simulated value, whether it is used
        and the standard deviation of one simulated window at the estimate."""
        self._fitted()
        sd = np.sqrt(np.diag(self.moment_covariance_))
        sim_sd = np.sqrt(np.diag(self.path_moment_covariance_))
        rows = zip(self.moment_set.names, self.real_moments_, sd, self.moments_, self._used, sim_sd, strict=True)
        return {m: {"real": float(r), "real_se": float(s), "simulated": float(x), "used": bool(u),
                    "simulated_window_sd": float(d)} for m, r, s, x, u, d in rows}  # fmt: skip


def cut_window(result: dict[str, xr.Dataset], start_ns: int, end_ns: int) -> dict[str, xr.Dataset]:
    """The events and books of a simulation in ``[start_ns, end_ns)``."""
    out = {}
    for group, dim in (("events", "event"), ("books", "time")):
        ts = result[group]["ts_ns"].values
        out[group] = result[group].isel({dim: slice(*np.searchsorted(ts, [start_ns, end_ns]).astype(int))})
    return out


# ------------------------------------------------------------------------------------------------ real data, preset
def select_window(data: dict[str, xr.Dataset], start_s: float, duration_s: float) -> dict[str, xr.Dataset]:
    """Cut ``[first event + start_s, + duration_s)`` out of a day (the demo's 12:00-12:30: 9000 s, 1800 s)."""
    first = int(data["events"]["ts_ns"].values[0])
    start = first + int(round(start_s * 1e9))
    window = cut_window(data, start, start + int(round(duration_s * 1e9)))
    if window["events"].sizes["event"] < 2:
        raise DataError(f"select_window: the window {start_s} s + {duration_s} s after the first event holds "
                        f"{window['events'].sizes['event']} events; need >= 2")  # fmt: skip
    return window


def market_for(config: MarketConfig, window: dict[str, xr.Dataset]) -> MarketConfig:
    """Give ``config`` the window's instrument, tick and lot sizes and its first mid as the fundamental's level."""
    books, attrs = window["books"], window["events"].attrs
    mid = 0.5 * float(books["bid_price"].values[0, 0] + books["ask_price"].values[0, 0])
    fundamental = replace(config.fundamental, mean_ticks=float(round(mid)))
    return replace(config, instrument=str(attrs.get("instrument", config.instrument)), fundamental=fundamental,
                   tick_size=float(attrs.get("tick_size", config.tick_size)),
                   lot_size=float(attrs.get("lot_size", config.lot_size)))  # fmt: skip


def preset_document(est: AgentMarketEstimator, *, source: dict[str, Any]) -> dict[str, Any]:
    """The preset: the fitted market config (the :class:`MarketConfig` TOML layout) and a ``[calibration]`` table."""
    from simlab.provenance import provenance

    config = est._fitted().to_dict()
    free_se = np.sqrt(np.maximum(np.diag(est.free_covariance_), 0.0))
    calibration = {
        "method": "simulated moments, common random numbers, inverse bootstrap-variance weights; sandwich standard "
        "errors from a central-difference Jacobian, x (1 + 1/n_paths)",
        "source": source,
        "settings": {k: getattr(est, k) for k in SETTINGS},
        "estimates": est.estimates_,
        "std_errors": est.std_errors_,
        "bootstrap_std_errors": est.bootstrap_std_errors_,
        "free_scale_std_errors": dict(zip(est.parameters, free_se.tolist(), strict=True)),
        "free_scales": {name: "logit" if name in SHARES else "log" for name in est.parameters},
        "objective": est.objective_,
        "evaluations": est.n_evaluations_,
        "bootstrap_resamples_used": est.n_boot_used_,
        "moments": est.moment_table(),
        "provenance": {k: v for k, v in provenance(seed=est.seed).items() if isinstance(v, (str, int, float))},
    }
    return {**config, "calibration": calibration}


def write_preset(document: dict[str, Any], path: str | Path) -> Path:
    """Write a preset document as TOML (atomically: a temporary file renamed); return the path."""
    from calibration.presets import dumps_toml

    return write_text_atomic(path, dumps_toml(document))


def load_abm_preset(path: str | Path) -> tuple[MarketConfig, dict[str, Any]]:
    """Read a market config TOML file, or a calibrated preset: the config and its ``[calibration]`` table ({})."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise DataError(f"abm config {str(path)!r}: no such file")
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"load_abm_preset: cannot read {path} as TOML ({exc})") from exc
    calibration = data.pop("calibration", {})
    return MarketConfig.from_dict(data, source=f"abm config {path.name}"), calibration


# ------------------------------------------------------------------------------------------------------- scorecard
AMZN_DAY = "lobster_samples/AMZN_2012-06-21_level1_fullday"


HELD_OUT = (
    "not available: the data hold no other AMZN day with messages; 'window' holds the 12:00-12:30 span the moments "
    "were fitted on"
)


def scored_window(calibration: dict[str, Any]) -> tuple[float, float]:
    """The window a preset's scorecard cuts beside the day (seconds after the day's first event, length): the
    ``window_start_s`` / ``window_duration_s`` of its ``[calibration.source]`` when set (a preset fitted on another
    span, e.g. the whole day: :mod:`calibration.abm_refit`), else the fitted window (``start_s``, ``duration_s``)."""
    source = calibration["source"]
    return float(source.get("window_start_s", source["start_s"])), float(
        source.get("window_duration_s", source["duration_s"])
    )


def score_abm_preset(path: str | Path, data_dir: str | Path, *, seed: int | None = None) -> dict[str, Any]:
    """Score a calibrated agent-market preset on the realism scorecard against the real AMZN day.

    Two windows: ``calibration``, the whole day from its first event (the convention of
    :mod:`calibration.score_presets`, where qr-amzn and zi-amzn are scored), one simulated day from 09:30; and
    ``window`` (:func:`scored_window`: the fitted window, the demo's 12:00-12:30, unless the preset names another)
    cut from the same simulated day.
    """
    from calibration.score_presets import N_BOOT, SEED, _numbers
    from simlab.io.dataset import load_dataset
    from simlab.metrics.scorecard import score

    seed = SEED if seed is None else seed
    config, calibration = load_abm_preset(path)
    real = load_dataset(Path(data_dir) / AMZN_DAY)
    first = int(real["events"]["ts_ns"].values[0])
    day = simulate_abm(replace(config, open_ns=first), seed=seed, duration_s=config.session_s)
    start_s, duration_s = scored_window(calibration)
    window = (first + int(start_s * 1e9), first + int((start_s + duration_s) * 1e9))
    document: dict[str, Any] = {"preset": Path(path).stem, "seed": seed, "n_boot": N_BOOT}
    spans = {"calibration": (first, first + int(config.session_s * 1e9)), "window": window}
    for label, (lo, hi) in spans.items():
        card = score(cut_window(day, lo, hi), cut_window(real, lo, hi), seed=seed, n_boot=N_BOOT)
        where = {"start": str(np.datetime64(lo, "ns")) + "Z", "duration_s": (hi - lo) / 1e9}
        document[label] = {**where, **_numbers(card)}
    document["held_out"] = HELD_OUT
    return document


if __name__ == "__main__":  # python -m calibration.abm PRESET DATA_DIR: write PRESET's .scores.json beside it
    import json
    import sys

    preset, folder = Path(sys.argv[1]), Path(sys.argv[2])
    out = preset.with_name(preset.stem + ".scores.json")
    write_text_atomic(out, json.dumps(score_abm_preset(preset, folder), indent=1, default=float) + "\n")
    print(out)
