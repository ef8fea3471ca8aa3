"""The realism rules (docs/agents_realism.md) do what they are for: the makers' spread floor holds, their jittered
ladder is no longer one burst of simultaneous events, the noise clock's waits follow the Hawkes law and are
over-dispersed, and split noise metaorders give trade signs whose ACF decays as a power law of exponent 0.3-0.8."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import (
    Fundamental,
    InitialBook,
    MarketConfig,
    MarketMakers,
    MomentumAgents,
    NoiseAgents,
    ValueAgents,
)
from simlab.agents import _rules as R
from simlab.book import _sim
from simlab.errors import ParameterError
from simlab.metrics.stylized import decay_exponent
from tests.simlab.agents.conftest import run_market, small_config


def _mp(floor):
    mp = np.zeros(11)
    mp[[R.MP_LEVELS, R.MP_SPACING, R.MP_MIN_HALF]] = 3, 0.5, floor
    return mp


def test_the_spread_floor_keeps_quotes_away_from_the_mid():
    assert R.maker_ladder(3.0, 1000, 0, 0, _mp(0), 0.0, 0) == (995, 999, 1002, 2)  # ABIDES: floor(w / 2), ceil(w / 2)
    assert R.maker_ladder(3.0, 1000, 0, 0, _mp(7), 0.0, 7) == (989, 993, 1007, 2)  # the floor binds
    assert R.maker_ladder(30.0, 1000, 0, 0, _mp(7), 0.0, 7) == (955, 985, 1015, 15)  # a wider window than the floor


def _market(config, seed=3):
    return run_market(config, seed)


def test_jitter_spreads_a_ladder_over_time():
    shares = []
    for jitter in (0.0, 0.2):
        config = small_config(market_maker=MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0,
                                                        level_jitter_s=jitter))  # fmt: skip
        _, ev = _market(config)
        makers = ev[np.isin(ev[:, 6], [52, 53])]  # agent ids: 40 noise, 12 value, then the two makers
        assert makers.shape[0] > 200
        shares.append(float(np.mean(np.diff(makers[:, 0]) == 0)))
    assert shares[0] > 0.7 and shares[1] < 0.02, shares  # ABIDES: a ladder and a cancel-all at one instant each


@pytest.mark.parametrize("excitation", [0.0, 0.8])
def test_the_noise_clock_follows_the_hawkes_law(excitation):
    gen, base, decay = np.random.default_rng(1), 0.5e-9, 2e-9  # per ns
    excess, waits = 0.0, np.empty(40_000)
    for i in range(waits.size):
        waits[i], excess = R.hawkes_wait(gen, excess, base, excitation * decay, decay)
    rate = base / (1 - excitation)  # the stationary intensity
    assert waits.mean() * rate == pytest.approx(1.0, abs=0.05)
    cv = waits.std() / waits.mean()
    assert (cv == pytest.approx(1.0, abs=0.03)) if excitation == 0 else cv > 1.5  # over-dispersed when excited


def _sign_config(split):
    return MarketConfig(
        name="signs",
        session_s=7200.0,
        fundamental=Fundamental(megashock_rate_per_s=0.0),
        noise=NoiseAgents(count=4, arrival_rate_per_s=3.0, split_exponent=split),
        value=ValueAgents(count=0),
        market_maker=MarketMakers(count=2, pov=0.5, min_order_size=500, wake_interval_s=5.0, levels=5,
                                  level_spacing=0.2, min_half_spread_ticks=2),
        momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=5, qty_lots=500),
    )  # fmt: skip


def _order_signs(ev):
    """One sign per noise market order (its trades share the aggressor order id)."""
    trades = ev[(ev[:, 1] == _sim.TRADE) & (ev[:, 6] >= 0) & (ev[:, 6] < 4)]
    _, first = np.unique(trades[:, 8], return_index=True)
    return trades[np.sort(first), 2].astype(float)


def _acf(x, lags):
    x = x - x.mean()
    return np.array([np.mean(x[k:] * x[:-k]) for k in lags]) / x.var()


def test_order_splitting_makes_signs_persistent_with_a_power_law_acf():
    lags = np.arange(1, 101)
    split = _order_signs(_market(_sign_config(1.6))[1])
    assert split.size > 15_000
    acf = _acf(split, lags)
    gamma = decay_exponent(lags, acf)
    assert 0.3 <= gamma <= 0.8 and acf[0] > 0.1, (gamma, acf[:3])  # Lillo-Mike-Farmer: gamma = alpha - 1 = 0.6
    plain = _order_signs(_market(_sign_config(0.0))[1])
    assert abs(_acf(plain, lags[:5])).max() < 0.03  # independent coins


def test_bad_realism_keys_are_refused_with_a_sentence():
    with pytest.raises(ParameterError, match="excitation"):
        NoiseAgents(arrival_rate_per_s=1.0, excitation=1.0)
    with pytest.raises(ParameterError, match="need the noise clock"):
        NoiseAgents(split_exponent=1.5)
    with pytest.raises(ParameterError, match="split_exponent"):
        NoiseAgents(arrival_rate_per_s=1.0, split_exponent=0.9)
    with pytest.raises(ParameterError, match="decay_per_s"):
        NoiseAgents(arrival_rate_per_s=1.0, decay_per_s=0.0)
    with pytest.raises(ParameterError, match="min_half_spread_ticks"):
        MarketMakers(min_half_spread_ticks=-1)
    with pytest.raises(ParameterError, match="level_jitter_s"):
        MarketMakers(level_jitter_s=-0.1)
    with pytest.raises(ParameterError, match="unknown parameter 'jitter'"):
        MarketConfig.from_dict({"agents": {"market_maker": {"jitter": 1.0}}})
