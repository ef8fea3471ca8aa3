"""Small markets shared by the agent tests."""

from __future__ import annotations

from simlab.agents import (
    Fundamental,
    InitialBook,
    Latency,
    MarketConfig,
    MarketMakers,
    MomentumAgents,
    NoiseAgents,
    ValueAgents,
)


def small_config(**changes) -> MarketConfig:
    """A 20-minute market with every agent class, busy enough to trade: short momentum windows, fast makers,
    frequent value agents, megashocks every ~2 minutes."""
    parts = dict(
        name="small",
        session_s=1200.0,
        fundamental=Fundamental(
            megashock_rate_per_s=1 / 120, megashock_mean_ticks=20.0, megashock_variance_ticks2=25.0
        ),
        noise=NoiseAgents(count=40),
        value=ValueAgents(count=12, arrival_rate_per_s=0.05),
        market_maker=MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0),
        momentum=MomentumAgents(count=3, wake_interval_s=10.0, short_window=2, long_window=5),
        latency=Latency(),
        initial_book=InitialBook(),
    )
    parts.update(changes)
    return MarketConfig(**parts)


def run_market(config, seed: int, duration_s: float | None = None):
    """Run ``config`` for ``duration_s`` (default: its session) from root seed ``seed`` on one path, no book or path
    samples; return the market and its events (one row each)."""
    from simlab.agents.market import _Market, _root
    from simlab.book import _sim

    market = _Market(config, _root(seed), config.session_s if duration_s is None else duration_s, 1, 0, 10**10)
    market.run()
    return market, market.ev[: int(market.ctr[_sim.C_EVENTS])]
