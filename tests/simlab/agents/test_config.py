"""Bad input to the agent-based market: one ParameterError sentence naming the key and listing the valid ones."""

from __future__ import annotations

import pytest

from simlab.agents import Latency, MarketConfig, MomentumAgents, NoiseAgents, ValueAgents
from simlab.errors import ParameterError


def test_unknown_agent_class_lists_the_valid_ones():
    with pytest.raises(
        ParameterError, match=r"unknown agent class 'whale'; valid ones are \['execution', 'leveraged', 'market_maker'"
    ):
        MarketConfig.from_dict({"agents": {"whale": {"count": 3}, "value": {}}})


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(
        ParameterError, match=r"\[agents.value\]: unknown parameter 'lambda_a'; valid ones are .*'arrival"
    ):
        MarketConfig.from_dict({"agents": {"value": {"lambda_a": 1e-3}}})
    with pytest.raises(ParameterError, match=r"unknown table 'agent'"):
        MarketConfig.from_dict({"agent": {}})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: NoiseAgents(count=-1), r"`count` of NoiseAgents must be an int >= 0; got -1"),
        (lambda: Latency(model="fixed", fixed_ns=-5), r"`fixed_ns` of Latency \(a latency\) must be >= 0 ns; got -5"),
        (lambda: Latency(model="cubic"), r"`model` of Latency must be one of \('line', 'fixed'\); got 'cubic'"),
        (lambda: ValueAgents(arrival_rate_per_s=0.0), r"`arrival_rate_per_s` of ValueAgents must be > 0.0; got 0.0"),
        (lambda: ValueAgents(variance_update="exact"), r"`variance_update` of ValueAgents must be one of"),
        (lambda: MomentumAgents(short_window=60), r"`short_window` of MomentumAgents must be <= long_window \(50\)"),
        (lambda: ValueAgents(latent_depth_ticks=-5.0), r"`latent_depth_ticks` of ValueAgents must be >= 0.0; got -5.0"),
        (lambda: ValueAgents(latent_depth_ticks=0.5), r"`latent_depth_ticks` of ValueAgents must be 0 .* or >= 1 tick"),
        (lambda: ValueAgents(latent_depth_ticks=float("nan")), r"`latent_depth_ticks` of ValueAgents must be a finite"),
        (lambda: ValueAgents(latent_depth_ticks=40.0, latent_refresh_per_s=-1e-3), r"`latent_refresh_per_s` .* >= 0"),
        (lambda: ValueAgents(latent_size_lots=10), r"`latent_size_lots` of ValueAgents needs the latent rule"),
        (lambda: ValueAgents(latent_depth_ticks=9.0, latent_size_lots=-1), r"`latent_size_lots` .* int >= 0; got -1"),
        (lambda: ValueAgents(latent_refresh_per_s=1e-3), r"`latent_refresh_per_s` of ValueAgents needs the latent"),
        (
            lambda: ValueAgents(latent_depth_ticks=9.0, latent_anchor="mid"),
            r"`latent_anchor` of ValueAgents must be one of \('fundamental', 'price'\); got 'mid'",
        ),
        (lambda: ValueAgents(latent_anchor="price"), r"`latent_anchor` of ValueAgents needs the latent rule on"),
    ],
)
def test_bad_parameters(build, message):
    with pytest.raises(ParameterError, match=message):
        build()


def test_negative_count_from_toml_names_the_table():
    with pytest.raises(ParameterError, match=r"\[agents.noise\]: `count` of NoiseAgents must be an int >= 0; got -3"):
        MarketConfig.from_dict({"agents": {"noise": {"count": -3}, "value": {}}})


def test_a_market_that_cannot_open():
    data = {"agents": {"noise": {"count": 10}, "momentum": {"count": 2}}}
    with pytest.raises(ParameterError, match=r"cannot open: it has no liquidity provider .* and no initial book"):
        MarketConfig.from_dict(data)
    assert MarketConfig.from_dict(dict(data, initial_book={"levels": 2})).initial_book.levels == 2


def test_round_trip_through_the_toml_layout():
    config = MarketConfig(value=ValueAgents(count=7), noise=NoiseAgents(count=3))
    assert MarketConfig.from_dict(config.to_dict()) == config


def test_latent_keys_from_toml_name_the_table():
    with pytest.raises(ParameterError, match=r"\[agents.value\]: `latent_depth_ticks` of ValueAgents must be >= 0"):
        MarketConfig.from_dict({"agents": {"value": {"latent_depth_ticks": -1.0}}})
    config = MarketConfig.from_dict({"agents": {"value": {"latent_depth_ticks": 300, "latent_refresh_per_s": 1e-4}}})
    assert (config.value.latent_depth_ticks, config.value.latent_refresh_per_s) == (300.0, 1e-4)
