"""The StableSwap kernels against a slow twin (bisection on the invariant, plain Python floats) and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.amm.stableswap import StableSwapPool, arbitrage_size, get_d, get_y, marginal_price, swap_in
from simlab.errors import ParameterError


def invariant_gap(xp: list[float], amp: float, d: float) -> float:
    """Return ``Ann * sum(x) + D - Ann * D - D**(n+1) / (n**n prod(x))`` (the contracts' invariant)."""
    n = len(xp)
    ann = amp * n
    return ann * sum(xp) + d - ann * d - d ** (n + 1) / (n**n * math.prod(xp))


def bisect(f, low: float, high: float) -> float:
    """Return the root of an increasing-or-decreasing ``f`` on [low, high] (its signs differ at the ends)."""
    f_low = f(low)
    for _ in range(400):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if (f(middle) > 0) == (f_low > 0):
            low, f_low = middle, f(middle)
        else:
            high = middle
    return 0.5 * (low + high)


def twin_d(xp: list[float], amp: float) -> float:
    return bisect(lambda d: invariant_gap(xp, amp, d), 1e-9 * sum(xp), 2.0 * sum(xp))


def twin_y(xp: list[float], amp: float, d: float, i: int, x: float, j: int) -> float:
    def gap(y: float) -> float:
        trial = list(xp)
        trial[i], trial[j] = x, y
        return invariant_gap(trial, amp, d)

    high = d
    while gap(high) < 0:
        high *= 2.0
    return bisect(gap, 1e-12 * d, high)


def twin_swap(xp, amp, fee, i, j, dx):
    d = twin_d(xp, amp)
    return (xp[j] - twin_y(xp, amp, d, i, xp[i] + dx, j)) * (1.0 - fee)


def cases(count: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 5))
        xp = rng.lognormal(np.log(100.0), 0.8, size=n)
        yield xp, float(rng.choice([1.0, 10.0, 100.0, 2000.0])), float(rng.choice([0.0, 1e-4, 4e-4]))


def test_get_d_and_get_y_match_the_bisection_twin():
    for xp, amp, _ in cases(25):
        d = get_d(xp, amp)
        assert d == pytest.approx(twin_d(list(xp), amp), rel=1e-11)
        assert abs(invariant_gap(list(xp), amp, d)) < 1e-9 * d * amp * len(xp)
        x_new = xp[0] * 1.3
        assert get_y(0, 1, x_new, xp, amp, d) == pytest.approx(twin_y(list(xp), amp, d, 0, x_new, 1), rel=1e-10)


def test_swaps_match_the_twin_and_exact_output_inverts_exact_input():
    for xp, amp, fee in cases(25, seed=4):
        dx = 0.2 * xp[0]
        dy = StableSwapPool(tuple(xp), amp, fee).swap(0, 1, dx)[0]
        assert dy == pytest.approx(twin_swap(list(xp), amp, fee, 0, 1, dx), rel=1e-9)
        paid, after = StableSwapPool(tuple(xp), amp, fee).swap_for(0, 1, dy)
        assert paid == pytest.approx(dx, rel=1e-9)
        assert after.balances[1] == pytest.approx(xp[1] - dy, rel=1e-12)
        if fee > 0:  # the fee stays in the pool: D grows
            assert after.invariant() > get_d(xp, amp)


def test_marginal_price_is_the_twin_derivative():
    for xp, amp, _ in cases(15, seed=5):
        d, h = twin_d(list(xp), amp), 1e-5 * xp[0]
        up = twin_y(list(xp), amp, d, 0, xp[0] + h, 1)
        down = twin_y(list(xp), amp, d, 0, xp[0] - h, 1)
        assert marginal_price(xp, amp, 0, 1) == pytest.approx(-(up - down) / (2 * h), rel=1e-6)


def test_arbitrage_size_maximises_the_twin_profit():
    for xp, amp, fee in cases(12, seed=6):
        ratio = 0.97 * marginal_price(xp, amp, 0, 1) * (1 - fee)
        size = arbitrage_size(xp, amp, fee, 0, 1, ratio, math.inf)

        def profit(dx: float, xp=xp, amp=amp, fee=fee, ratio=ratio) -> float:
            return twin_swap(list(xp), amp, fee, 0, 1, dx) - ratio * dx

        low, high = 0.0, 4.0 * size
        for _ in range(200):  # ternary search on the concave profit
            a, b = low + (high - low) / 3, high - (high - low) / 3
            low, high = (a, high) if profit(a) < profit(b) else (low, b)
        assert profit(size) == pytest.approx(profit(0.5 * (low + high)), rel=1e-8)
        assert size == pytest.approx(0.5 * (low + high), rel=1e-3)
        assert arbitrage_size(xp, amp, fee, 0, 1, ratio, 0.1 * size) == 0.1 * size  # the cap binds
        assert arbitrage_size(xp, amp, fee, 0, 1, marginal_price(xp, amp, 0, 1), math.inf) == 0.0  # inside the band


def test_closed_forms_constant_product_constant_sum_and_the_balanced_price():
    xp = np.array([120.0, 80.0, 100.0])
    dy_product = StableSwapPool(tuple(xp), 1e-9, 0.0).swap(0, 1, 30.0)[0]
    assert dy_product == pytest.approx(xp[1] * 30.0 / (xp[0] + 30.0), rel=1e-6)  # A -> 0: x0 * x1 constant
    assert StableSwapPool(tuple(xp), 1e12, 0.0).swap(0, 1, 30.0)[0] == pytest.approx(30.0, rel=1e-8)  # A -> inf
    for n in (2, 3, 4):
        for amp in (0.5, 100.0, 5000.0):
            assert StableSwapPool((7.0,) * n, amp).price(0, n - 1) == pytest.approx(1.0, abs=1e-12)
            assert StableSwapPool((7.0,) * n, amp).invariant() == pytest.approx(7.0 * n, rel=1e-13)


def test_two_coin_get_y_is_the_quadratic_root():
    # n = 2: y**2 + (b - D) y - c = 0 with c = D**3 / (4 Ann x), b = x + D / Ann (hand algebra on the invariant)
    xp, amp, x = np.array([100.0, 100.0]), 10.0, 110.0
    ann, d = amp * 2, 200.0
    c, b = d**3 / (4 * ann * x), x + d / ann
    assert get_y(0, 1, x, xp, amp, d) == pytest.approx((d - b + math.sqrt((b - d) ** 2 + 4 * c)) / 2, rel=1e-13)


def test_swap_conserves_tokens():
    xp = np.array([50.0, 300.0, 90.0])
    before = xp.copy()
    dy, charged = swap_in(xp, 300.0, 0.003, 2, 0, 40.0)
    assert xp[2] - before[2] == 40.0 and before[0] - xp[0] == pytest.approx(dy, rel=1e-15)
    assert charged == pytest.approx(dy * 0.003 / 0.997, rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(balances=(1.0,)), "at least two"),
        (dict(balances=(1.0, -1.0)), "balances"),
        (dict(balances=(1.0, 1.0), amplification=0.0), "amplification"),
        (dict(balances=(1.0, 1.0), fee=1.0), "fee"),
    ],
)
def test_bad_pools_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        StableSwapPool(**kwargs)


def test_bad_swaps_are_refused():
    pool = StableSwapPool((10.0, 10.0))
    with pytest.raises(ParameterError, match="different indices"):
        pool.swap(0, 0, 1.0)
    with pytest.raises(ParameterError, match="dx"):
        pool.swap(0, 1, -1.0)
    with pytest.raises(ParameterError, match="below coin 1's balance"):
        pool.swap_for(0, 1, 10.0)
