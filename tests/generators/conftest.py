"""Real flows for the generator tests, read once per session (skipped when ../shared/data is absent)."""

from __future__ import annotations

import pytest

AAPL_L50 = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"
AAPL_START = "lobster_samples/AAPL_2012-06-21_level10_first1000"
AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"


@pytest.fixture(scope="session")
def aapl_hour():
    """The AAPL level-50 hour with its replayed books."""
    from generators.data import read_flow
    from tests.conftest import shared_path

    start = tuple(sorted(shared_path(AAPL_START).glob("*.csv")))
    return read_flow(shared_path(AAPL_L50), start)


@pytest.fixture(scope="session")
def amzn_day():
    """The AMZN level-1 day with its orderbook file."""
    from generators.data import read_flow
    from tests.conftest import shared_path

    message, orderbook = sorted(shared_path(AMZN).glob("*.csv"))
    return read_flow(message, (orderbook,))
