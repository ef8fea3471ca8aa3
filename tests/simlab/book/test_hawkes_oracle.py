"""Continuations of the Hawkes-driven book: the state at a row resumes the recorded run exactly, the excitation
equals the closed form's, the thinning kernel equals a slow twin and has the Hawkes law, and the Monte Carlo is
reproducible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.book import _engine, _hawkes_book, _hawkes_oracle, _sim
from simlab.book.hawkes_book import simulate_hawkes_book
from simlab.book.hawkes_oracle import OUT_FIELDS, OUT_VALID, continue_from, intensity_tables, origin_states
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import excitation_state, expected_counts
from tests.simlab.book.test_hawkes_book import PARAMS

HAWKES = HawkesParams(
    baseline=[3.0, 3.0, 1.2, 1.2, 0.4, 0.4],
    adjacency=np.stack([0.06 * np.eye(6) + 0.01, 0.1 * np.eye(6) + 0.02], axis=2),
    decays=np.stack([np.full((6, 6), 2.0), np.full((6, 6), 80.0)], axis=2),
    names=PARAMS.hawkes.names,
)
WORLD = replace(PARAMS, hawkes=HAWKES, reference_depth_lots=(20.0, 20.0), depth_window_ticks=10)
SEED, DURATION, WARMUP, DEPTH = 7, 60.0, 5.0, 5
RUN = {"rng": SEED, "depth": DEPTH, "warmup_s": WARMUP}


@pytest.fixture(scope="module")
def recorded():
    return simulate_hawkes_book(WORLD, DURATION, **RUN)


def _copy(origin):
    return tuple(a.copy() for a in origin.state), origin.ctr.copy(), origin.gen_state


def test_the_state_at_a_row_resumes_the_recorded_run_exactly(recorded):
    books = np.stack([recorded["books"][f].values for f in ("bid_price", "bid_qty", "ask_price", "ask_qty")])
    n = books.shape[1]
    (path,) = simulate_hawkes(HAWKES, WARMUP + DURATION, rng=np.random.default_rng(SEED))
    dims = path.dims.astype(np.int64)
    rows = np.array([n // 8, n // 8 + 1, n // 3, n // 2, n - 40])
    seen = []
    for origin in origin_states(WORLD, DURATION, rows, **RUN):
        assert origin.mid2 == books[0, origin.row, 0] + books[2, origin.row, 0]
        seen.append((origin.row, origin.event, origin.rest_rows, _copy(origin)))
    assert [s[0] for s in seen] == rows.tolist()
    for row, event, rest, (state, ctr, gen_state) in seen:
        written = row + 1 + rest
        assert int(ctr[_sim.C_EVENTS]) == written
        assert (books[:, row + 1 : written] == books[:, row : row + 1]).all()  # one event's later fills
        gen = np.random.default_rng()
        gen.bit_generator.state = gen_state
        ev, out = np.zeros((n + 64, _sim.EV_FIELDS), np.int64), _engine.new_fills(64)
        buf, ts = np.zeros((4, n + 64, DEPTH), np.int64), np.zeros(n + 64, np.int64)
        cdf, values = WORLD._tables
        _, _, ev, buf, ts = _hawkes_book.run(
            state, out, gen, path.times_s, dims, event + 1, path.times_s.size, WARMUP, cdf, values,
            WORLD.cancel_hazard, np.asarray(WORLD.reference_depth_lots), WORLD.depth_window_ticks, 0, False,
            WORLD.band_ticks, 0, 0, True, ev, buf, ts, ctr,
        )  # fmt: skip
        assert int(ctr[_sim.C_EVENTS]) == n
        np.testing.assert_array_equal(buf[:, written:n], books[:, written:n])
        np.testing.assert_array_equal(ts[written:n], recorded["books"]["ts_ns"].values[written:n])
        np.testing.assert_array_equal(ev[written:n, _sim.EV_PRICE], recorded["events"]["price_ticks"].values[written:n])


def test_the_excitation_at_a_row_is_the_closed_form_one():
    (path,) = simulate_hawkes(HAWKES, WARMUP + DURATION, rng=np.random.default_rng(SEED))
    jump, betas, _ = intensity_tables(WORLD)
    for origin in origin_states(WORLD, DURATION, np.array([100, 400]), **RUN):
        times, dims = path.times_s[: origin.event + 1], path.dims[: origin.event + 1]
        assert origin.time_s == times[-1]
        full = excitation_state(times[:-1], dims[:-1], HAWKES, origin.time_s)
        full[:, dims[-1], :] += HAWKES.adjacency[:, dims[-1], :] * HAWKES.decays[:, dims[-1], :]
        compressed = np.stack([full[:, :, k].sum(axis=1) for k in range(2)], axis=1)  # decays 2 and 80 per k
        assert betas.tolist() == [2.0, 80.0]
        np.testing.assert_allclose(origin.excitation, compressed, rtol=1e-9)


def _slow_next_event(exc, betas, baseline, t, gen):
    """Thinning written out: propose at the current total intensity, accept by its value at the proposal."""
    exc = exc.copy()
    while True:
        bound = baseline.sum() + exc.sum()
        dt = -np.log(1.0 - gen.random()) / bound
        t += dt
        exc = exc * np.exp(-betas * dt)[None, :]
        lam = baseline + exc.sum(axis=1)
        u = gen.random() * bound
        hit = np.flatnonzero(u < np.cumsum(lam))
        if hit.size:
            return t, int(hit[0]), exc


def test_next_event_matches_its_slow_twin():
    jump, betas, baseline = intensity_tables(WORLD)
    exc = np.random.default_rng(1).uniform(0, 40, size=(6, 2))
    fast, slow = np.random.default_rng(5), np.random.default_rng(5)
    t_fast = t_slow = 3.0
    e_fast, e_slow = exc.copy(), exc.copy()
    for _ in range(300):
        t_fast, d_fast = _hawkes_oracle.next_event(e_fast, betas, baseline, t_fast, fast)
        t_slow, d_slow, e_slow = _slow_next_event(e_slow, betas, baseline, t_slow, slow)
        assert d_fast == d_slow and t_fast == pytest.approx(t_slow, rel=1e-12)
        np.testing.assert_allclose(e_fast, e_slow, rtol=1e-10)
        e_fast += jump[d_fast]
        e_slow = e_slow + jump[d_slow]


def test_thinning_from_a_state_has_the_hawkes_expected_counts():
    jump, betas, baseline = intensity_tables(WORLD)
    full = np.zeros((6, 6, 2))
    full[:, 4, 1] = 30.0  # a burst of market buys just happened: fast excitation of every type
    full[:, 0, 0] = 2.0
    exc0 = full.sum(axis=1)
    horizon, n_paths, gen = 0.5, 3000, np.random.default_rng(9)
    counts = np.zeros((n_paths, 6))
    for p in range(n_paths):
        exc, t = exc0.copy(), 0.0
        while True:
            t, dim = _hawkes_oracle.next_event(exc, betas, baseline, t, gen)
            if t > horizon:
                break
            exc += jump[dim]
            counts[p, dim] += 1
    truth = expected_counts(HAWKES, horizon, full)
    se = counts.std(axis=0) / np.sqrt(n_paths)
    assert np.all(np.abs(counts.mean(axis=0) - truth) < 4 * se + 1e-3)
    assert truth[4] > 1.5 * expected_counts(HAWKES, horizon, np.zeros((6, 6, 2)))[4]  # the state matters


def test_continuations_are_seeded_and_reach_their_target():
    (origin,) = origin_states(WORLD, DURATION, np.array([300]), **RUN)
    first = continue_from(WORLD, origin, rng=3, n_paths=50, horizon_events=20, warmup_s=WARMUP)
    again = continue_from(WORLD, origin, rng=3, n_paths=50, horizon_events=20, warmup_s=WARMUP)
    other = continue_from(WORLD, origin, rng=4, n_paths=50, horizon_events=20, warmup_s=WARMUP)
    assert first.shape == (50, OUT_FIELDS) and first[:, OUT_VALID].all()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    timed = continue_from(WORLD, origin, rng=3, n_paths=20, horizon_ns=10**9, warmup_s=WARMUP)
    assert timed[:, _hawkes_oracle.OUT_EVENTS].mean() > 5  # about 10 events per second
    with pytest.raises(ParameterError, match="exactly one of horizon_events and horizon_ns"):
        continue_from(WORLD, origin, rng=3, n_paths=5)
    with pytest.raises(ParameterError, match="opening ADD rows"):
        next(origin_states(WORLD, DURATION, np.array([0]), **RUN))


def _slow_continuation(origin, gen, need_rows):
    """One continuation written out: the twin's thinning, then the recorded run applied to that one event."""
    jump, betas, baseline = intensity_tables(WORLD)
    state, ctr = tuple(a.copy() for a in origin.state), origin.ctr.copy()
    exc, t, rows, n_events = origin.excitation.copy(), origin.time_s, 0, 0
    mids, rv = [origin.mid2], 0.0
    ev, out = np.zeros((8, _sim.EV_FIELDS), np.int64), _engine.new_fills(64)
    books, ts = np.zeros((4, 8, 1), np.int64), np.zeros(8, np.int64)
    cdf, values = WORLD._tables
    while rows < need_rows:
        t, dim, exc = _slow_next_event(exc, betas, baseline, t, gen)
        exc = exc + jump[dim]
        before = int(ctr[_sim.C_EVENTS])
        state, out, ev, books, ts = _hawkes_book.run(
            state, out, gen, np.array([t]), np.array([dim]), 0, 1, WARMUP, cdf, values, WORLD.cancel_hazard,
            np.asarray(WORLD.reference_depth_lots), WORLD.depth_window_ticks, 0, False, WORLD.band_ticks, 0, 0, True,
            ev, books, ts, ctr,
        )  # fmt: skip
        n_events += 1
        if ctr[_sim.C_EVENTS] > before:
            rows += int(ctr[_sim.C_EVENTS]) - before
            last = int(ctr[_sim.C_BOOKS]) - 1
            mids.append(int(books[0, last, 0] + books[2, last, 0]))
            rv += np.log(mids[-1] / mids[-2]) ** 2
    return [mids[-1], max(mids), min(mids), rv, 1.0, n_events]


def test_continuations_match_their_slow_twin():
    (origin,) = origin_states(WORLD, DURATION, np.array([250]), **RUN)
    fast = continue_from(WORLD, origin, rng=8, n_paths=4, horizon_events=15, warmup_s=WARMUP)
    gen = np.random.default_rng(8)
    slow = np.array([_slow_continuation(origin, gen, 15 - origin.rest_rows) for _ in range(4)])
    np.testing.assert_allclose(fast, slow, rtol=1e-9)
    assert len(set(fast[:, 0])) > 1  # the paths differ
