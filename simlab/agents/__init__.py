"""The agent-based market: ABIDES-class agents (noise, value, momentum, adaptive market makers) on the matching
engine of :mod:`simlab.book._engine`, with per-agent latency, in discrete event time (ns)."""

from simlab.agents.config import (
    AGENT_CLASSES,
    CircuitBreaker,
    ExecutionAgents,
    Fundamental,
    InitialBook,
    Latency,
    LeveragedTraders,
    MarketConfig,
    MarketMakers,
    MarkShock,
    MomentumAgents,
    NewsShock,
    NoiseAgents,
    PauseShock,
    Shocks,
    StopLossAgents,
    ValueAgents,
    WithdrawalShock,
    read_market_config,
)
from simlab.agents.market import simulate_abm, simulate_markets

__all__ = [
    "AGENT_CLASSES",
    "CircuitBreaker",
    "ExecutionAgents",
    "Fundamental",
    "InitialBook",
    "Latency",
    "LeveragedTraders",
    "MarketConfig",
    "MarkShock",
    "MarketMakers",
    "MomentumAgents",
    "NewsShock",
    "NoiseAgents",
    "PauseShock",
    "Shocks",
    "StopLossAgents",
    "ValueAgents",
    "WithdrawalShock",
    "read_market_config",
    "simulate_abm",
    "simulate_markets",
]
