"""Run ABIDES' rmsc04 day (bench_abm.py's peer); print its wall and CPU time, book events and wake-ups as JSON.

Run by bench_abm.py with ABIDES' source on the path (``ABIDES_DIR``); ABIDES' pomegranate order-size model is
replaced by the same mixture sampled with numpy from the agent's own RandomState (pomegranate 0.14 does not build
on current Pythons). Usage: python abides_rmsc04_runner.py END_TIME SEED.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import types

import numpy as np

WEIGHTS = np.array([0.2, 0.7, 0.06, 0.004, 0.0329, 0.001, 0.0006, 0.0004, 0.0005, 0.0003, 0.0003])


class NumpyMixture:
    """ABIDES' order-size mixture (log-normal 2.9, 1.2 and normals at 100..1000 with sd 0.15), sampled with numpy."""

    @classmethod
    def from_json(cls, _text: str) -> NumpyMixture:
        return cls()

    def sample(self, random_state: np.random.RandomState) -> float:
        k = int(np.searchsorted(np.cumsum(WEIGHTS), random_state.rand(), side="right"))
        k = min(k, WEIGHTS.size - 1)
        return random_state.lognormal(2.9, 1.2) if k == 0 else random_state.normal(100.0 * k, 0.15)


def main(end_time: str, seed: int) -> None:
    stub = types.ModuleType("pomegranate")
    stub.GeneralMixtureModel = NumpyMixture
    sys.modules["pomegranate"] = stub
    from abides_core import Agent, abides
    from abides_markets.configs import rmsc04

    wakeups = [0]
    original = Agent.wakeup

    def counted(self, current_time):
        wakeups[0] += 1
        return original(self, current_time)

    Agent.wakeup = counted
    config = rmsc04.build_config(seed=seed, end_time=end_time, log_orders=False, book_logging=False)
    config["stdout_log_level"] = "WARNING"
    logging.disable(logging.INFO)
    started, cpu = time.perf_counter(), time.process_time()
    end_state = abides.run(config)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    exchange = end_state["agents"][0]
    book = exchange.order_books["ABM"]
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "book_events": len(book.history), "wakeups": wakeups[0]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
