"""Order books: the matching engine and the book simulators built on it.

``simlab.book._engine`` holds the price-time priority matching engine's state and kernels (its docstring is the
contract for simulators and agents): it is the one book of the house, serving the LOBSTER and Binance replays
(``simlab.book._engine_replay``: synthetic level orders for L2 updates and unseen liquidity), the simulators and later
the agents. :func:`match_events` replays an order-level events Dataset through it.
:func:`simulate_zi` runs the Santa Fe zero-intelligence model on that engine; :func:`simulate_qr` the
queue-reactive model of Huang, Lehalle and Rosenbaum (2015) on queue sizes at the best levels;
:func:`simulate_hawkes_book` drives the engine with a multivariate Hawkes order flow and fitted placement and size
laws (the event times stay the Hawkes path's; a fitted depth and spread feedback decides placements and cancels).
"""

from simlab.book.engine import match_events
from simlab.book.hawkes_book import EmpiricalLaw, HawkesBookParams, simulate_hawkes_book
from simlab.book.queue_reactive import QRParams, simulate_qr
from simlab.book.zero_intelligence import ZIParams, simulate_zi

__all__ = [
    "EmpiricalLaw",
    "HawkesBookParams",
    "QRParams",
    "ZIParams",
    "match_events",
    "simulate_hawkes_book",
    "simulate_qr",
    "simulate_zi",
]
