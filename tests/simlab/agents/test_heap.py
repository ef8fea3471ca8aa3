"""The agent kernel's message heap (``simlab.agents._kernel.push`` / ``pop``) against Python's ``heapq`` on (time,
sequence): messages leave by time, equal times in their sending order, whatever the interleaving of pushes and pops."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from simlab.agents import _kernel as K


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heap_pops_in_time_then_sending_order(seed):
    rng = np.random.default_rng(seed)
    heap, ctr = np.zeros((512, K.H_FIELDS), np.int64), np.zeros(K.CTR_SIZE, np.int64)
    twin, popped, seq = [], 0, 0
    for _ in range(2000):
        if ctr[K.C_HEAP] < 500 and (not twin or rng.random() < 0.55):
            t = int(rng.integers(0, 40))  # few distinct times: many ties, ordered by sending
            fields = [int(x) for x in rng.integers(-9, 9, 5)]
            K.push(heap, ctr, t, *fields)
            heapq.heappush(twin, (t, seq, *fields))
            seq += 1
        else:
            row = K.pop(heap, ctr)
            assert tuple(int(x) for x in heap[row]) == heapq.heappop(twin)
            assert row == ctr[K.C_HEAP] == len(twin)
            popped += 1
    assert popped > 500 and ctr[K.C_SEQ] == seq
