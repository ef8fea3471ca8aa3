"""Shape statistics: a slow twin on random paths, synthetic crashes whose shape is known by construction, the
interval table, and bad input."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from simlab.errors import DataError, ParameterError
from simlab.metrics.crash import (
    STATISTICS,
    UNITS,
    CrashPath,
    absent_statistics,
    extreme_move,
    interval_table,
    shape_statistics,
)

OPTIONAL = ("depth", "spread", "volume", "maker_gross", "maker_net", "liquidations", "fund", "adl")


def twin(path: CrashPath, event_s: float, direction: int, pre_s: float, horizon_s=None) -> dict[str, float]:
    """The statistics with plain loops over the samples (the rules of docs/stress_shapes.md, written again)."""
    t, n = [float(x) for x in path.t_s], len(path.t_s)
    dt = t[1] - t[0]
    tol = 1e-9 * dt
    mid = [float(x) for x in path.mid]
    pre = [k for k in range(n) if event_s - pre_s - tol <= t[k] < event_s - tol]
    event = min(k for k in range(n) if t[k] >= event_s - tol)
    last = n - 1 if horizon_s is None else max(k for k in range(n) if t[k] <= event_s + horizon_s + tol)
    res = {name: math.nan for name in STATISTICS}
    ref = [mid[k] for k in pre if not math.isnan(mid[k])]
    if not ref or all(math.isnan(mid[k]) for k in range(event, last + 1)):
        return res
    p0 = statistics.median(ref)
    move = [direction * (m - p0) / p0 for m in mid]
    trough, best = None, -math.inf
    for k in range(event, last + 1):
        if not math.isnan(move[k]) and move[k] > best:
            trough, best = k, move[k]
    res["drawdown"], res["time_to_trough_s"] = best, t[trough] - t[event]
    if best > 0:
        res["half_life_s"] = math.inf
        for k in range(trough + 1, n):
            if not math.isnan(move[k]) and move[k] <= best / 2:
                crossing = t[k]
                if not math.isnan(move[k - 1]) and move[k - 1] > best / 2:
                    crossing = t[k - 1] + dt * (move[k - 1] - best / 2) / (move[k - 1] - move[k])
                res["half_life_s"] = crossing - t[trough]
                break
        for name, h in (("recovered_1min", 60), ("recovered_5min", 300), ("recovered_30min", 1800)):
            k = trough + round(h / dt)
            if k < n and not math.isnan(move[k]):
                res[name] = (best - move[k]) / best
    leg = range(event, trough + 1)
    leg_s, pre_len_s = len(leg) * dt, len(pre) * dt

    def ratio(a, b):
        if math.isnan(a) or math.isnan(b):
            return math.nan
        return (math.nan if a == 0 else math.copysign(math.inf, a)) if b == 0 else a / b

    def finite(values):
        return [v for v in values if not math.isnan(v)]

    if path.depth is not None:
        low, base = finite([path.depth[k] for k in leg]), finite([path.depth[k] for k in pre])
        res["min_depth_ratio"] = ratio(min(low) if low else math.nan, statistics.median(base) if base else math.nan)
    if path.spread is not None:
        high, base = finite([path.spread[k] for k in leg]), finite([path.spread[k] for k in pre])
        res["max_spread_ratio"] = ratio(max(high) if high else math.nan, statistics.median(base) if base else math.nan)
    if path.volume is not None:
        res["volume_ratio"] = ratio(
            sum(path.volume[k] for k in leg) / leg_s, sum(path.volume[k] for k in pre) / pre_len_s
        )
    if path.maker_gross is not None:
        res["hot_potato_ratio"] = ratio(sum(path.maker_gross[k] for k in leg), abs(sum(path.maker_net[k] for k in leg)))
    if path.liquidations is not None:
        res["liquidations_per_min"] = sum(path.liquidations[k] for k in leg) * 60.0 / leg_s
    if path.fund is not None:
        before = finite([path.fund[k] for k in range(event)])
        low = finite([path.fund[k] for k in leg])
        res["fund_drawdown"] = before[-1] - min(low) if before and low else math.nan
    if path.adl is not None:
        res["adl_count"] = float(sum(path.adl[k] for k in leg))
    return res


def random_path(rng: np.random.Generator, n: int = 400, dt: float = 1.0, holes: bool = True) -> CrashPath:
    mid = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    if holes:
        mid[rng.random(n) < 0.05] = np.nan
    series = {
        "depth": rng.integers(0, 50, n).astype(float),
        "spread": rng.integers(1, 6, n).astype(float),
        "volume": rng.poisson(3.0, n).astype(float),
        "maker_gross": rng.poisson(4.0, n).astype(float),
        "maker_net": rng.integers(-3, 4, n).astype(float),
        "liquidations": rng.poisson(0.2, n).astype(float),
        "fund": np.cumsum(rng.normal(0, 5, n)),
        "adl": rng.poisson(0.1, n).astype(float),
    }
    if holes:
        series["depth"][rng.random(n) < 0.05] = np.nan
    return CrashPath(np.arange(n) * dt + 17.0, mid, **series)


def assert_same(got: dict, expected: dict) -> None:
    assert list(got) == list(STATISTICS)
    for name in STATISTICS:
        assert got[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-12, nan_ok=True), name


@pytest.mark.parametrize("seed", range(12))
def test_every_statistic_matches_the_slow_twin_on_random_paths(seed):
    rng = np.random.default_rng(seed)
    dt = (1.0, 0.5, 2.0)[seed % 3]
    path = random_path(rng, dt=dt, holes=seed % 2 == 0)
    event_s = float(path.t_s[int(rng.integers(5, 300))])
    direction = -1 if seed % 4 < 2 else 1
    pre_s = float(rng.choice([30.0, 120.0, 600.0]))
    horizon_s = None if seed % 3 == 0 else float(rng.integers(0, 80))
    got = shape_statistics(path, event_s, direction, pre_s=pre_s, horizon_s=horizon_s)
    assert_same(got, twin(path, event_s, direction, pre_s, horizon_s))
    assert absent_statistics(path) == ()


def test_an_event_between_grid_samples_starts_at_the_next_sample():
    path = random_path(np.random.default_rng(5))
    got = shape_statistics(path, 117.4, -1, pre_s=50.0)
    assert_same(got, twin(path, 117.4, -1, 50.0))


def linear_crash(direction: int = -1) -> CrashPath:
    """100 flat for 600 s, a straight fall of 8 % from 600 s to 690 s, then an exponential recovery with a half-life
    of 45 s (the move back halves every 45 s), on a 0.5 s grid."""
    t = np.arange(0.0, 4000.0, 0.5)
    depth_fraction = np.where(t < 600, 0.0, np.where(t < 690, 0.08 * (t - 600) / 90, 0.08 * 0.5 ** ((t - 690) / 45)))
    mid = 100.0 * (1 + direction * depth_fraction)
    return CrashPath(t, mid)


@pytest.mark.parametrize("direction", [-1, 1])
def test_a_crash_built_with_known_drawdown_trough_and_half_life(direction):
    path = linear_crash(direction)
    got = shape_statistics(path, 600.0, direction, pre_s=600.0)
    assert got["drawdown"] == pytest.approx(0.08, rel=1e-12)
    assert got["time_to_trough_s"] == 90.0
    # half recovered exactly 45 s after the trough; the grid (0.5 s) holds 45 s exactly
    assert got["half_life_s"] == pytest.approx(45.0, abs=1e-9)
    assert got["recovered_1min"] == pytest.approx(1 - 0.5 ** (60 / 45), rel=1e-12)
    assert got["recovered_5min"] == pytest.approx(1 - 0.5 ** (300 / 45), rel=1e-12)
    assert got["recovered_30min"] == pytest.approx(1 - 0.5 ** (1800 / 45), rel=1e-12)
    assert absent_statistics(path) == tuple(STATISTICS[6:])
    assert all(math.isnan(got[name]) for name in STATISTICS[6:])


def test_a_linear_recovery_crossing_between_samples_is_interpolated():
    t = np.arange(0.0, 200.0, 10.0)  # trough at 60 s, 5 % down; linear recovery of 1 % per 7 s
    mid = np.where(t <= 60, 100 - 5 * np.clip((t - 20) / 40, 0, 1), 95 + (t - 60) / 7)
    got = shape_statistics(CrashPath(t, np.minimum(mid, 100.0)), 20.0, -1, pre_s=20.0)
    assert got["drawdown"] == pytest.approx(0.05)
    assert got["time_to_trough_s"] == 40.0
    assert got["half_life_s"] == pytest.approx(17.5)  # 2.5 % back at 7 s per %


def test_no_recovery_is_an_infinite_half_life_and_a_rise_has_no_half_life():
    t = np.arange(0.0, 100.0)
    falling = CrashPath(t, np.where(t < 50, 100.0, 100.0 - (t - 50) * 0.1))
    got = shape_statistics(falling, 50.0, -1, pre_s=50.0)
    assert got["half_life_s"] == math.inf and got["time_to_trough_s"] == 49.0
    assert math.isnan(got["recovered_1min"])  # the path ends before trough + 60 s
    rising = shape_statistics(CrashPath(t, 100.0 + t), 50.0, -1, pre_s=50.0)
    assert rising["drawdown"] < 0 and math.isnan(rising["half_life_s"])


def test_liquidity_and_liquidation_statistics_by_hand():
    t = np.arange(0.0, 10.0)
    mid = np.array([100, 100, 100, 100, 98, 96, 95, 97, 99, 100.0])  # event at 3 s, trough at 6 s: leg = samples 3..6
    path = CrashPath(
        t, mid, depth=np.array([10, 12, 8, 9, 5, 4, 6, 2, 9, 9.0]), spread=np.array([1, 1, 2, 1, 3, 5, 4, 9, 1, 1.0]),
        volume=np.array([1, 2, 3, 4, 10, 10, 10, 0, 0, 0.0]), maker_gross=np.array([0, 0, 0, 2, 4, 6, 8, 0, 0, 0.0]),
        maker_net=np.array([0, 0, 0, 1, -3, 1, -3, 0, 0, 0.0]), liquidations=np.array([0, 0, 0, 0, 1, 3, 0, 5, 0, 0.0]),
        fund=np.array([50, 50, 50, 40, 20, 30, 10, 0, 0, 0.0]), adl=np.array([0, 0, 0, 1, 0, 2, 0, 7, 0, 0.0]),
    )  # fmt: skip
    got = shape_statistics(path, 3.0, -1, pre_s=3.0)
    assert got["drawdown"] == pytest.approx(0.05) and got["time_to_trough_s"] == 3.0
    assert got["min_depth_ratio"] == pytest.approx(4 / 10)  # min over 3..6 = 4; pre median of 10, 12, 8 = 10
    assert got["max_spread_ratio"] == pytest.approx(5 / 1)
    assert got["volume_ratio"] == pytest.approx((34 / 4) / (6 / 3))
    assert got["hot_potato_ratio"] == pytest.approx(20 / 4)
    assert got["liquidations_per_min"] == pytest.approx(4 / (4 / 60))
    assert got["fund_drawdown"] == pytest.approx(50 - 10)
    assert got["adl_count"] == 3.0
    assert UNITS["liquidations_per_min"] == "1/min"


def test_interval_table_t_and_bootstrap():
    rows = [{"drawdown": x, "half_life_s": h} for x, h in ((0.1, 10.0), (0.2, math.inf), (0.3, 30.0), (0.2, 20.0))]
    table = interval_table(rows)
    mean, lo, hi, n = table["drawdown"]
    assert (mean, n) == (pytest.approx(0.2), 4)
    half = 3.182446305284263 * np.std([0.1, 0.2, 0.3, 0.2], ddof=1) / 2  # t(0.975, 3)
    assert (lo, hi) == (pytest.approx(0.2 - half), pytest.approx(0.2 + half))
    assert table["half_life_s"][0] == pytest.approx(20.0) and table["half_life_s"][3] == 3  # inf left out
    assert math.isnan(table["adl_count"][0]) and table["adl_count"][3] == 0
    boot = interval_table(rows, 0.9, method="bootstrap", rng=3)
    assert boot["drawdown"] == interval_table(rows, 0.9, method="bootstrap", rng=3)["drawdown"]
    assert 0.1 <= boot["drawdown"][1] < 0.2 < boot["drawdown"][2] <= 0.3
    with pytest.raises(ParameterError, match="rng"):
        interval_table(rows, method="bootstrap")


def test_bad_input_is_one_sentence():
    t = np.arange(10.0)
    with pytest.raises(DataError, match="regular"):
        CrashPath(np.array([0.0, 1.0, 3.0]), np.ones(3))
    with pytest.raises(DataError, match="shape"):
        CrashPath(t, np.ones(10), depth=np.ones(9))
    path = CrashPath(t, np.ones(10))
    with pytest.raises(ParameterError, match="direction"):
        shape_statistics(path, 5.0, 0)
    with pytest.raises(ParameterError, match="event_s"):
        shape_statistics(path, 0.0)
    with pytest.raises(ParameterError, match="pre_s"):
        shape_statistics(path, 5.0, pre_s=-1.0)
    with pytest.raises(ParameterError, match="level"):
        interval_table([], level=95)


def test_extreme_move_finds_the_largest_window_return_and_the_earliest_tie():
    mid = np.array([100, 100, 101, 100, 99, 100, 101, 100, 97, 97.0])
    path = CrashPath(np.arange(10.0) * 2, mid)  # 2 s grid
    assert extreme_move(path, 2.0) == (14.0, -1, pytest.approx(-0.03))  # 100 -> 97 at 14 s -> 16 s
    rising = CrashPath(np.arange(6.0), np.array([5, 1, 2, 1, 2, 1.0]))  # sample 0 cannot open a window
    assert extreme_move(rising, 1.0) == (1.0, 1, pytest.approx(1.0))  # ties at 1 s and 3 s: the earliest
    with pytest.raises(ParameterError, match="window_s"):
        extreme_move(path, 18.0)
    with pytest.raises(DataError, match="no window"):
        extreme_move(CrashPath(np.arange(4.0), np.array([1, np.nan, np.nan, np.nan])), 1.0)
