"""The dense price-grid level book against a dict-based twin on random updates."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.book import _levels as L
from simlab.schema import NO_PRICE


class DictBook:
    """The slow, obvious twin: one dict price -> qty per side over a fixed price range."""

    def __init__(self, low: int, n_ticks: int):
        self.low, self.high = low, low + n_ticks - 1
        self.sides = {1: {}, -1: {}}

    def set(self, side: int, price: int, qty: int) -> int:
        if side not in (1, -1):
            return L.BAD_SIDE
        if qty < 0:
            return L.NEGATIVE_QTY
        if not self.low <= price <= self.high:
            return L.OUT_OF_GRID
        if qty:
            self.sides[side][price] = qty
        else:
            self.sides[side].pop(price, None)
        return L.OK

    def add(self, side: int, price: int, delta: int) -> int:
        if side not in (1, -1):
            return L.BAD_SIDE
        if not self.low <= price <= self.high:
            return L.OUT_OF_GRID
        if self.sides[side].get(price, 0) + delta < 0:
            return L.NEGATIVE_QTY
        return self.set(side, price, self.sides[side].get(price, 0) + delta)

    def top(self, side: int, k: int) -> list[tuple[int, int]]:
        prices = sorted(self.sides[side], reverse=side == 1)[:k]
        rows = [(p, self.sides[side][p]) for p in prices]
        return rows + [(NO_PRICE, 0)] * (k - len(rows))


def _random_ops(rng: np.random.Generator, n: int, low: int, n_ticks: int):
    for _ in range(n):
        side = int(rng.choice([1, -1, 1, -1, 0]))
        price = int(rng.integers(low - 3, low + n_ticks + 3))
        qty = int(rng.choice([0, 0, rng.integers(1, 50), -int(rng.integers(1, 5))]))
        yield bool(rng.random() < 0.3), side, price, qty


def _compare(levels, state, twin: DictBook, k: int) -> None:
    out = [np.zeros((1, k), np.int64) for _ in range(4)]
    L.top_k(levels, state, k, out[0], out[1], out[2], out[3], 0)
    bids, asks = twin.top(1, k), twin.top(-1, k)
    assert out[0][0].tolist() == [p for p, _ in bids] and out[1][0].tolist() == [q for _, q in bids]
    assert out[2][0].tolist() == [p for p, _ in asks] and out[3][0].tolist() == [q for _, q in asks]
    assert L.best_bid(levels, state) == bids[0][0] and L.best_ask(levels, state) == asks[0][0]
    assert state[L.N_BID] == len(twin.sides[1]) and state[L.N_ASK] == len(twin.sides[-1])


@pytest.mark.parametrize("seed", range(8))
def test_grid_book_matches_dict_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    low, n_ticks = int(rng.integers(-50, 1000)), int(rng.integers(1, 40))
    levels, state = L.new_book(low, n_ticks)
    twin = DictBook(low, n_ticks)
    for use_add, side, price, qty in _random_ops(rng, 400, low, n_ticks):
        if use_add:
            got, want = L.add_level(levels, state, side, price, qty), twin.add(side, price, qty)
        else:
            got, want = L.set_level(levels, state, side, price, qty), twin.set(side, price, qty)
        assert got == want
        assert L.level_qty(levels, state, side, price) == twin.sides.get(side, {}).get(price, 0)
        _compare(levels, state, twin, k=int(rng.integers(1, 6)))


def test_out_of_grid_never_writes_and_grow_keeps_levels() -> None:
    levels, state = L.new_book(100, 10)
    assert L.set_level(levels, state, 1, 105, 7) == L.OK
    assert L.set_level(levels, state, -1, 107, 3) == L.OK
    before = levels.copy()
    assert L.set_level(levels, state, 1, 99, 5) == L.OUT_OF_GRID
    assert L.set_level(levels, state, -1, 110, 5) == L.OUT_OF_GRID
    assert L.set_level(levels, state, 1, NO_PRICE, 5) == L.OUT_OF_GRID
    assert np.array_equal(levels, before)
    grown, grown_state = L.grow(levels, state, 90, 130)
    assert grown.shape == (2, 41) and grown_state[L.ORIGIN] == 90
    assert (L.best_bid(grown, grown_state), L.best_ask(grown, grown_state)) == (105, 107)
    assert L.set_level(grown, grown_state, -1, 130, 1) == L.OK and L.level_qty(grown, grown_state, 1, 105) == 7


def test_clear_and_empty_sides_report_no_price() -> None:
    levels, state = L.new_book(0, 5)
    assert L.best_bid(levels, state) == NO_PRICE and L.best_ask(levels, state) == NO_PRICE
    L.set_level(levels, state, 1, 2, 4)
    L.clear(levels, state)
    assert L.best_bid(levels, state) == NO_PRICE and state[L.N_BID] == 0 and not levels.any()
    assert L.NO_PRICE == NO_PRICE
