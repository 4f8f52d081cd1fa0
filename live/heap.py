"""The interpreter's heap kept out of a live run's timings.

A full garbage collection walks every object the process holds: in the
live lab's process, with the model, SQLAlchemy, numpy and the web app's
modules loaded, one took 90 ms in the middle of a 20 s run, and every
request that arrived meanwhile waited for it (a cluster of 30 waits over
10 ms, which alone made the FastAPI sizing case's p99 wait 17 ms live
against 4.5 in the model). A deployed service has a smaller heap and its
load spread over its processes. So while runs go on, what existed before
the first of them is frozen (`gc.freeze`): collections then look at the
objects made since, and take a millisecond or two.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_runs = 0


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Freeze the heap for as long as any run in this process is inside; unfrozen after the last.

    Garbage made before is collected first, so nothing unreachable is kept
    for the run's length; what the run leaves is collected as usual after.
    """
    global _runs
    with _lock:
        if _runs == 0:
            gc.collect()
            gc.freeze()
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.unfreeze()
