"""The numba engine against its slow twin, its Dataset, and its bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.amm import _kernels, lvr
from simlab.amm.chain import BlockTimes, Gas
from simlab.amm.engine import METRICS, Market, NoiseTraders, PoolSpec, TradeFlow, market_inputs, simulate_amm
from simlab.amm.fees import REGISTRY, fee_names, make_fee
from simlab.errors import ParameterError
from simlab.random import spawn
from tests.simlab.amm.twin import twin_path

ALL_DESIGNS = [make_fee(name) for name in fee_names()]
STRESS = Market(volatility=1.5, blocks=BlockTimes("poisson", 12.0), gas=Gas(gas_units=120_000, base_fee_gwei=2.0),
                noise=NoiseTraders(rate_per_s=0.4, mean_value=3000.0, dispersion=1.2, fee_elasticity=150.0),
                repeg_bps=20.0)  # fmt: skip
PREYED = replace(STRESS, noise=replace(STRESS.noise, slippage=0.01))  # with a sandwich attacker
CASES = [(PoolSpec(value=2e5), PREYED), (PoolSpec(value=2e5, accounting="reserves"), PREYED),
         (PoolSpec(value=2e5, lower=2700, upper=3300), STRESS)]  # fmt: skip


def test_kernel_kinds_follow_the_registry():
    assert _kernels.KIND_NAMES == tuple(REGISTRY)
    assert [REGISTRY[name].kind for name in _kernels.KIND_NAMES] == list(range(len(REGISTRY)))


@pytest.mark.parametrize(("pool", "market"), CASES, ids=["aside", "reserves", "range"])
def test_engine_equals_its_slow_twin_for_every_design(pool, market):
    n_paths, n_blocks = 3, 120
    data = market_inputs(market, pool, n_paths, n_blocks, spawn(11, 1)[0])  # the stream simulate_amm gives it
    ds = simulate_amm(ALL_DESIGNS, markets=market, pool=pool, n_paths=n_paths, n_blocks=n_blocks, seed=11)
    assert ds["value"].sel(metric="noise_volume").min() > 0 and ds["value"].sel(metric="arb_gas").min() > 0
    if market.noise.slippage > 0:
        assert ds["value"].sel(metric="sandwich_share").min() > 0.05
    for d, rule in enumerate(ALL_DESIGNS):
        for path in range(n_paths):
            starts = data["starts"][path * n_blocks : (path + 1) * n_blocks + 1]
            trades = [list(zip(data["noise_value"][a:b], data["noise_side"][a:b], data["noise_u"][a:b], strict=True))
                      for a, b in zip(starts[:-1], starts[1:], strict=True)]  # fmt: skip
            twin = twin_path(rule, pool, data["price"][path], data["times"][path], data["gas"][path], trades, 20.0,
                             market.noise.fee_elasticity, market.noise.slippage)  # fmt: skip
            got = ds["value"].isel(design=d, parameter=0, path=path)
            for name in METRICS:
                scale = max(1e-9 * abs(twin[name]), 1e-12 * pool.value if "rel" not in name else 1e-13)
                assert abs(float(got.sel(metric=name)) - twin[name]) <= scale, (rule.name, path, name)


def test_the_dataset_is_labelled_and_reproducible():
    markets = [Market(volatility=0.5), Market(volatility=1.0, label="stress")]
    designs = ["static", ("static", {"fee": 0.0005}), {"name": "surge", "surge": 0.02}]
    a = simulate_amm(designs, markets=markets, n_paths=40, n_blocks=50, seed=3)
    b = simulate_amm(designs, markets=markets, n_paths=40, n_blocks=50, seed=3)
    assert a["value"].dims == ("design", "parameter", "path", "metric")
    assert list(a["parameter"].values) == ["vol=0.5,blocks=fixed/12s", "stress"]
    assert a["design"].values[1] == "static(fee=0.0005)"
    assert np.array_equal(a["value"].values, b["value"].values)
    assert a.attrs["seed"] == 3 and "static(fee=0.0005)" in a.attrs["config"]
    mean = a["mean"].sel(metric="lp_pnl")
    assert np.allclose(mean, a["value"].sel(metric="lp_pnl").mean("path"))
    assert (a["ci_low"] <= a["mean"]).all() and (a["cvar_1"] <= a["cvar_5"]).all()
    assert (a["cvar_5"] <= mean).all()
    assert (a["cvar_5_ci_low"] <= a["cvar_5_ci_high"]).all()


def test_the_same_seed_gives_the_same_bytes_on_one_thread_and_on_all():
    """Jobs (design, path) run in parallel over precomputed inputs: the thread count must not change a byte."""
    import numba

    runs = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            runs.append(simulate_amm(ALL_DESIGNS, markets=PREYED, pool=PoolSpec(value=2e5), n_paths=16, n_blocks=60,
                                     seed=13))  # fmt: skip
    finally:
        numba.set_num_threads(previous)
    assert runs[0]["value"].values.tobytes() == runs[1]["value"].values.tobytes()
    assert runs[0]["cvar_5"].values.tobytes() == runs[1]["cvar_5"].values.tobytes()
    assert float(runs[0]["value"].sel(metric="sandwich_profit").max()) > 0  # every code path of the kernel ran


def test_hedged_pnl_is_fees_minus_lvr_and_conservation_holds_per_path():
    ds = simulate_amm(ALL_DESIGNS, markets=Market(volatility=1.0), n_paths=20, n_blocks=200, seed=5)
    v = ds["value"]
    fees = v.sel(metric="fees_arb") + v.sel(metric="fees_noise") + v.sel(metric="fees_sandwich")
    assert np.allclose(v.sel(metric="hedged_lp_pnl"), fees - v.sel(metric="lvr"), rtol=0, atol=1e-6)
    # no noise, no gas: each path's arbitrage profit plus arbitrage fees is its LVR, to rounding
    total = v.sel(metric="arb_profit") + v.sel(metric="fees_arb")
    assert np.allclose(total, v.sel(metric="lvr"), rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: simulate_amm(["nope"], seed=1), "fee design 'nope' is unknown; the valid designs are static, "),
        (
            lambda: simulate_amm([("static", {"fees": 0.1})], seed=1),
            "fee design static has no parameter 'fees'; its parameters are fee",
        ),  # fmt: skip
        (lambda: make_fee("static", fee=1.0), "`fee` of fee design static must be in [0, 1); got 1.0"),
        (lambda: make_fee("curve_v2", mid_fee=-0.1), "`mid_fee` of fee design curve_v2 must be in [0, 1); got -0.1"),
        (lambda: BlockTimes("fixed", 0.0), "`mean_s` of BlockTimes must be a finite number > 0; got 0.0"),
        (lambda: BlockTimes("poisson", -12.0), "`mean_s` of BlockTimes must be a finite number > 0; got -12.0"),
        (lambda: BlockTimes("weekly"), "`law` of BlockTimes must be one of fixed, poisson, missed_slots"),
        (lambda: PoolSpec(value=-1.0), "`value` of PoolSpec must be a finite number > 0; got -1.0"),
        (lambda: PoolSpec(lower=3300.0, upper=2700.0), "`lower` < `price` < `upper` of PoolSpec must hold"),
        (lambda: simulate_amm(["static"], n_paths=0, seed=1), "`n_paths` of simulate_amm must be an int >= 1"),
        (lambda: simulate_amm([], seed=1), "simulate_amm needs at least one design and one market; got 0 designs"),
        (
            lambda: PoolSpec(lower=2700.0),
            "`lower` and `upper` of PoolSpec must be given together (a range) or both "
            "None; got lower=2700.0, upper=None",
        ),
        (
            lambda: NoiseTraders(sizes=(10.0, -1.0)),
            "`sizes` of NoiseTraders must be a non-empty list of finite sizes > 0; got 2 sizes, among them -1.0",
        ),
        (
            lambda: TradeFlow([0, 1, 2], [5.0, 3.0], [1, 2]),
            "`values` of TradeFlow must be finite and > 0 and `sides` +1 or -1; trade 1 has value 3.0 and side 2",
        ),
        (
            lambda: TradeFlow([0, 3], [5.0, 3.0], [1, -1]),
            "`offsets` of TradeFlow must start at 0, never decrease and "
            "end at len(values) (2); got 2 offsets from [0] to [3]",
        ),
        (lambda: lvr.poisson_arbitrage_profit(1.0, 0.0, 0.003), "`sigma_block` of poisson_arbitrage_profit must be"),
    ],
)
def test_bad_input_gets_our_error_sentence(call, message):
    with pytest.raises(ParameterError) as caught:
        call()
    assert str(caught.value).startswith(message), str(caught.value)
