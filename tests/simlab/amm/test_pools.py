"""Ground truth 1: swap and position maths against exact arithmetic, and impermanent loss, to 1e-12."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simlab.amm.pools import ConcentratedPosition, ConstantProductPool, impermanent_loss
from simlab.errors import ParameterError

getcontext().prec = 60
reserve = st.floats(1e-3, 1e9)
fee = st.sampled_from([0.0, 0.0001, 0.0005, 0.003, 0.01, 0.3])


def _relative(a: float, exact) -> float:
    return abs(Fraction(a) - Fraction(exact)) / abs(Fraction(exact))


@given(x=reserve, y=reserve, fee=fee, share=st.floats(1e-9, 10.0), token=st.sampled_from(["x", "y"]))
def test_constant_product_swap_matches_exact_rational_maths(x, y, fee, share, token):
    for accounting in ("aside", "reserves"):
        pool = ConstantProductPool(x, y, fee, accounting)
        r_in, r_out = (x, y) if token == "x" else (y, x)
        amount = share * r_in
        result = pool.swap(amount, token)
        f_in, f_out, f_fee = Fraction(r_in), Fraction(r_out), Fraction(fee)
        effective = Fraction(amount) * (1 - f_fee)
        exact_out = f_out * effective / (f_in + effective)
        assert _relative(result.amount_out, exact_out) <= 1e-12
        new_in = result.pool.x if token == "x" else result.pool.y
        exact_in = f_in + (Fraction(amount) if accounting == "reserves" else effective)
        assert _relative(new_in, exact_in) <= 1e-12
        if accounting == "aside":  # k is unchanged
            assert _relative(result.pool.x * result.pool.y, Fraction(x) * Fraction(y)) <= 1e-12


@given(
    price=st.floats(0.5, 2.0),
    width=st.floats(1.01, 4.0),
    share=st.floats(1e-6, 0.5),
    fee=fee,
    token=st.sampled_from(["x", "y"]),
)
def test_concentrated_swap_matches_exact_decimal_maths(price, width, share, fee, token):
    lower, upper, liquidity = price / width, price * width, 1234.5
    position = ConcentratedPosition(liquidity, lower, upper, price, fee)
    x, y = position.reserves
    L, P, pa, pb = (Decimal(v) for v in (liquidity, price, lower, upper))
    assert abs(Decimal(x) - L * (1 / P.sqrt() - 1 / pb.sqrt())) <= Decimal(1e-12) * Decimal(x)
    assert abs(Decimal(y) - L * (P.sqrt() - pa.sqrt())) <= Decimal(1e-12) * Decimal(y)
    amount = share * (y if token == "y" else x)  # buy x with y (sqrt P rises) or sell x (1 / sqrt P rises)
    result = position.swap(amount, token)
    effective = Decimal(amount) * (1 - Decimal(fee))
    if token == "y":
        new_root = P.sqrt() + effective / L
        inside, exact_out = new_root < pb.sqrt(), L * (1 / P.sqrt() - 1 / new_root)
    else:
        new_root = 1 / (1 / P.sqrt() + effective / L)
        inside, exact_out = new_root > pa.sqrt(), L * (P.sqrt() - new_root)
    if inside:
        assert abs(Decimal(result.amount_out) - exact_out) <= Decimal(1e-12) * exact_out
        assert abs(Decimal(result.pool.price) - new_root * new_root) <= Decimal(1e-12) * new_root * new_root
        assert abs(result.amount_in - amount) <= 1e-12 * amount  # a full fill: all of it is used
        assert abs(Decimal(result.fee_paid) - Decimal(amount) * Decimal(fee)) <= Decimal(1e-12) * Decimal(amount)


def test_a_position_stops_at_its_range_edge_with_a_partial_fill():
    position = ConcentratedPosition(1000.0, 0.9, 1.1, 1.0, 0.003)
    result = position.swap(1e6, "y")
    assert result.pool.price == pytest.approx(1.1, rel=1e-14)
    assert result.amount_in == pytest.approx(1000.0 * (math.sqrt(1.1) - 1.0) / 0.997, rel=1e-12)
    assert result.pool.reserves[0] == pytest.approx(0.0, abs=1e-9)
    result = position.swap(1e6, "x")  # and selling x stops at the lower edge
    assert result.pool.price == pytest.approx(0.9, rel=1e-14)
    assert result.amount_in == pytest.approx(1000.0 * (1 / math.sqrt(0.9) - 1.0) / 0.997, rel=1e-12)
    assert result.amount_out == pytest.approx(1000.0 * (1.0 - math.sqrt(0.9)), rel=1e-12)
    assert result.pool.reserves[1] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("ratio", [0.01, 0.25, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0, 100.0])
def test_impermanent_loss_of_an_arbitraged_pool(ratio):
    """Arbitrage a fee-free pool from price 2000 to 2000 r with the swap maths: value / holding = 2 sqrt(r)/(1+r)."""
    pool = ConstantProductPool(500.0, 1e6, fee=0.0)
    trade = pool.arbitrage(2000.0 * ratio)
    end = trade.pool if trade is not None else pool
    relative = end.value(2000.0 * ratio) / (500.0 * 2000.0 * ratio + 1e6) - 1.0
    exact = 2 * math.sqrt(ratio) / (1 + ratio) - 1
    assert abs(relative - exact) <= 1e-12 * max(abs(exact), 1e-3)
    assert impermanent_loss(ratio) == pytest.approx(exact, rel=1e-15, abs=1e-18)


def test_arbitrage_stops_at_the_edge_of_the_no_trade_band():
    for accounting in ("aside", "reserves"):
        pool = ConstantProductPool(500.0, 1e6, fee=0.003, accounting=accounting)  # price 2000
        assert pool.arbitrage(2000.0 * 1.002) is None and pool.arbitrage(2000.0 * 0.998) is None
        up = pool.arbitrage(2100.0)
        down = pool.arbitrage(1900.0)
        if accounting == "aside":  # the pool lands on the band edge S (1 - f) or S / (1 - f)
            assert up.pool.price == pytest.approx(2100.0 * 0.997, rel=1e-13)
            assert down.pool.price == pytest.approx(1900.0 / 0.997, rel=1e-13)
            eps = 1e-7  # the marginal trade after the arbitrage is worth nothing: d out / d in = reference
            assert up.pool.swap(eps, "y").amount_out / eps == pytest.approx(1 / 2100.0, rel=1e-6)
            assert down.pool.swap(eps, "x").amount_out / eps == pytest.approx(1900.0, rel=1e-6)
        for trade, token, reference in ((up, "y", 2100.0), (down, "x", 1900.0)):  # a single trade is optimal

            def profit(amount, token=token, reference=reference, pool=pool):
                out = pool.swap(amount, token).amount_out
                return out * reference - amount if token == "y" else out - amount * reference

            best = profit(trade.amount_in)
            assert best > 0
            assert profit(trade.amount_in * (1 + 1e-4)) < best and profit(trade.amount_in * (1 - 1e-4)) < best


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ConstantProductPool(-1.0, 1.0), "`x` of ConstantProductPool must be a finite number > 0; got -1.0"),
        (lambda: ConstantProductPool(1.0, 1.0, fee=1.0), "`fee` of ConstantProductPool must be in [0, 1); got 1.0"),
        (lambda: ConstantProductPool(1.0, 1.0, fee=-0.1), "`fee` of ConstantProductPool must be in [0, 1); got -0.1"),
        (lambda: ConcentratedPosition(1.0, 2.0, 1.0, 1.5), "`lower` of ConcentratedPosition must be < `upper`"),
        (lambda: ConstantProductPool(1.0, 1.0, accounting="v4"), "`accounting` of ConstantProductPool must be"),
        (lambda: impermanent_loss(0.0), "`price_ratio` of impermanent_loss must be a finite number > 0"),
    ],
)
def test_bad_pool_input_gets_our_error_sentence(build, message):
    with pytest.raises(ParameterError, match=None) as caught:
        build()
    assert str(caught.value).startswith(message)
