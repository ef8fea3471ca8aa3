"""Ground truth 8: the optimal front-run against exact brute force (1e-9) and the small-trade profit (5%)."""

from __future__ import annotations

import itertools

import pytest

from simlab.amm._kernels import sandwich_front_run
from simlab.amm.pools import ConstantProductPool
from simlab.amm.sandwich import approximate_profit, brute_force_sandwich, optimal_sandwich
from simlab.errors import ParameterError

CASES = [  # accounting, fee, victim share of the y reserve, slippage, side
    ("aside", 0.0005, 0.001, 0.005, "buy"),
    ("aside", 0.003, 0.01, 0.01, "buy"),
    ("aside", 0.003, 0.05, 0.3, "sell"),
    ("aside", 0.003, 0.05, 0.9, "buy"),  # interior optimum beyond the reserve
    ("aside", 0.01, 0.05, 0.9, "buy"),  # interior optimum
    ("aside", 0.03, 0.05, 0.6, "sell"),  # interior optimum
    ("reserves", 0.0005, 0.02, 0.02, "buy"),
    ("reserves", 0.003, 0.05, 0.05, "sell"),
    ("reserves", 0.03, 0.05, 0.9, "buy"),  # interior optimum
    ("reserves", 0.003, 0.001, 0.01, "buy"),  # not worth it: no attack
]


@pytest.mark.parametrize(("accounting", "fee", "share", "slippage", "side"), CASES)
def test_optimal_front_run_equals_exact_brute_force(accounting, fee, share, slippage, side):
    pool = ConstantProductPool(1000.0, 3e6, fee, accounting)
    victim_in = share * (pool.y if side == "buy" else pool.x)
    solved = optimal_sandwich(pool, victim_in, slippage, gas=1.0, side=side)
    brute = brute_force_sandwich(pool, victim_in, slippage, gas=1.0, side=side)
    assert solved.front_run == pytest.approx(brute.front_run, rel=1e-9, abs=1e-9)
    assert solved.profit == pytest.approx(brute.profit, rel=1e-9)
    assert solved.victim_out >= solved.victim_min_out * (1 - 1e-12)
    if solved.front_run == 0.0:
        assert solved.profit == -1.0 and not solved.attacks


def test_an_attack_stopped_by_the_tolerance_leaves_the_victim_exactly_its_minimum():
    pool = ConstantProductPool(1000.0, 3e6, 0.003)
    solved = optimal_sandwich(pool, 0.01 * pool.y, 0.01)
    assert solved.victim_out == pytest.approx(solved.victim_min_out, rel=1e-12)
    assert optimal_sandwich(pool, 0.01 * pool.y, 0.01, gas=solved.profit + 1).profit == pytest.approx(-1.0)


def test_profit_matches_the_small_trade_formula_within_5_percent():
    worst = 0.0
    for accounting, fee, depth, slippage in itertools.product(
        ("aside", "reserves"), (0.0, 0.0005, 0.003), (0.005, 0.01, 0.02, 0.05), (0.005, 0.01, 0.02)
    ):
        pool = ConstantProductPool(1000.0, 3e6, fee, accounting)
        victim_in = depth * pool.x * pool.price  # the victim's size is depth * x at the pool price
        solved = optimal_sandwich(pool, victim_in, slippage, gas=5.0)
        approx = approximate_profit(pool, victim_in, slippage, gas=5.0)
        worst = max(worst, abs(approx / solved.profit - 1))
    assert worst < 0.05
    assert worst > 0.04  # at 5% of depth the formula's second-order error is close to the bound


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(victim_in=-1.0, slippage=0.01), "`victim_in` of the sandwich must be a finite number > 0; got -1.0"),
        (dict(victim_in=1.0, slippage=1.0), "`slippage` of the sandwich must be in (0, 1); got 1.0"),
        (dict(victim_in=1.0, slippage=0.01, gas=-2.0), "`gas` of the sandwich must be a finite number >= 0"),
        (dict(victim_in=1.0, slippage=0.01, side="up"), "`side` of the sandwich must be 'buy' or 'sell'; got 'up'"),
    ],
)
def test_bad_sandwich_input_gets_our_error_sentence(kwargs, message):
    with pytest.raises(ParameterError) as caught:
        optimal_sandwich(ConstantProductPool(1.0, 1.0), **kwargs)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(("accounting", "fee", "share", "slippage", "side"), CASES)
def test_the_engines_numba_sandwich_equals_the_solver(accounting, fee, share, slippage, side):
    """The engine's kernel (closed-form bound, bisection on the exact slope) against the solver, directional fees."""
    pool = ConstantProductPool(1000.0, 3e6, fee, accounting)
    back_fee = fee / 2
    victim_in = share * (pool.y if side == "buy" else pool.x)
    solved = optimal_sandwich(pool, victim_in, slippage, side=side, back_fee=back_fee)
    r_in, r_out = (pool.y, pool.x) if side == "buy" else (pool.x, pool.y)
    front = sandwich_front_run(r_in, r_out, fee, back_fee, victim_in, slippage, accounting == "reserves")
    assert front == pytest.approx(solved.front_run, rel=1e-9, abs=1e-9)
