"""The fee registry: each rule's Python reference against the numba kernel, docs, and bad input."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.amm import _kernels
from simlab.amm.fees import REGISTRY, STATE_SIZE, BlockObservation, fee_names, make_fee
from simlab.errors import ParameterError


def _random_rule(name: str, rng: np.random.Generator):
    """The rule with its defaults scaled by random factors (kept valid)."""
    rule = make_fee(name)
    params = {}
    for item in fields(rule):
        value = getattr(rule, item.name) * rng.uniform(0.5, 1.5)
        params[item.name] = min(value, 0.99) if rule.bounds[item.name] in ("fee", "unit") else value
    if name == "volatility_tiers":
        params["high_volatility"] = max(params["high_volatility"], params["low_volatility"])
    if name == "surge":
        params["surge"] = min(params["surge"], 0.98 - params["base_fee"])
    return make_fee(name, **params)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_rule_in_numba_equals_its_python_reference(seed):
    rng = np.random.default_rng(seed)
    for name in fee_names():
        rule = _random_rule(name, rng)
        price, x = 3000.0 * rng.uniform(0.8, 1.2), 100.0 * rng.uniform(0.5, 2)
        state = rule.initial_state(price, x, 0.0)
        st_kernel = np.zeros(STATE_SIZE)
        _kernels.init_state(rule.kind, rule.vector(), st_kernel, price, x, 0.0)
        assert np.allclose(st_kernel, state, rtol=1e-14, atol=0)
        time = 0.0
        for _ in range(30):
            dt = float(rng.exponential(12.0)) + 1e-3
            time += dt
            price *= math.exp(rng.normal(0, 0.01))
            block = BlockObservation(time, dt, price, float(rng.normal(0, 0.01)), float(rng.normal(0, 0.01)),
                                     float(rng.uniform(-1, 1)))  # fmt: skip
            state = rule.on_block(state, block)
            _kernels.on_block(rule.kind, rule.vector(), st_kernel, block.time, block.dt, block.pool_price,
                              block.pool_return, block.oracle_return, block.imbalance)  # fmt: skip
            assert np.allclose(st_kernel, state, rtol=1e-12, atol=1e-300), name
            xv, yv, oracle = x * rng.uniform(0.8, 1.2), x * price * rng.uniform(0.8, 1.2), price * rng.uniform(0.9, 1.1)
            expected = rule.fees(state, xv, yv, oracle)
            got = _kernels.fees(rule.kind, rule.vector(), st_kernel, xv, yv, oracle)
            assert np.allclose(got, expected, rtol=1e-12, atol=0), name
            assert all(0 <= f < 1 for f in got)


def test_every_rule_documents_its_source_and_parameters():
    assert len(REGISTRY) == 10
    for name, cls in REGISTRY.items():
        doc = cls.__doc__ or ""
        assert "Source:" in doc, name
        for item in fields(cls):
            assert f"``{item.name}``" in doc, (name, item.name)


def test_static_and_directional_rules_give_their_fees():
    assert make_fee("static", fee=0.0005).fees([0.0] * 4, 1.0, 1.0, 1.0) == (0.0005, 0.0005)
    rule = make_fee("nezlobin_directional", base_fee=0.003, sensitivity=0.5, min_fee=0.0001, max_fee=0.02)
    state = rule.on_block([0.0] * 4, BlockObservation(12.0, 12.0, 1.0, 0.004, 0.0, 0.0))
    assert rule.fees(state, 1.0, 1.0, 1.0) == pytest.approx((0.005, 0.001), rel=1e-12)
    gap = make_fee("oracle_gap", base_fee=0.001, coefficient=0.5, max_fee=0.05)
    assert gap.fees([], 1.0, 100.0, 101.0) == pytest.approx((0.001 + 0.5 * math.log(1.01), 0.001), rel=1e-12)
    surge = make_fee("surge", base_fee=0.003, surge=0.01, threshold=0.005, halflife_s=60.0)
    state = surge.on_block([0.0] * 4, BlockObservation(12.0, 12.0, 1.0, 0.0, -0.006, 0.0))
    state = surge.on_block(state, BlockObservation(72.0, 60.0, 1.0, 0.0, 0.0, 0.0))
    assert surge.fees(state, 1.0, 1.0, 1.0)[0] == pytest.approx(0.003 + 0.005, rel=1e-12)


def test_unknown_names_and_parameters_list_the_valid_ones():
    with pytest.raises(ParameterError, match="the valid designs are static, volatility_tiers, .*, surge"):
        make_fee("uniswap")
    with pytest.raises(ParameterError, match="its parameters are mid_fee, out_fee, fee_gamma, ma_halftime_s"):
        make_fee("curve_v2", gamma=0.1)
    with pytest.raises(ParameterError, match=r"`low_volatility` of fee design volatility_tiers must be <= "):
        make_fee("volatility_tiers", low_volatility=2.0, high_volatility=1.0)
    with pytest.raises(ParameterError, match=r"`halflife_s` of fee design surge must be in \(0, inf\); got 0.0"):
        make_fee("surge", halflife_s=0.0)
