"""What each worker process of the runner's local cluster runs at its start (Dask's worker ``preload``).

A worker process that has closed cleanly exits without Python's interpreter teardown: that teardown (clearing every
module of numpy, pandas, xarray, dask, distributed, numba, ...) took 0.3-0.65 s of CPU per worker process, and the
local cluster's close waits for it (``docs/sweeps.md``). The shortcut is armed only once the worker has finished its
close (its scratch directory released, the scheduler told); a worker process that ends any other way (an error, a
signal) exits as usual. Workers of a remote scheduler are not touched: whoever starts them decides how they exit.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
from typing import Any

_WATCHERS: set[asyncio.Task] = set()  # the running watchers (the loop keeps only weak references to tasks)


def dask_setup(worker: Any) -> None:
    """Arm the quick exit for when ``worker`` has closed (Dask calls this once the worker has started)."""
    watcher = asyncio.get_running_loop().create_task(_exit_quickly_once_closed(worker))
    _WATCHERS.add(watcher)
    watcher.add_done_callback(_WATCHERS.discard)


async def _exit_quickly_once_closed(worker: Any) -> None:
    await worker.finished()
    atexit.register(exit_now)  # runs first at exit: registered after every handler of the imported libraries


def exit_now() -> None:
    """Flush the logs and the standard streams and end the process with status 0, skipping the interpreter's
    teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)
