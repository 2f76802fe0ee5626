"""Pausing Python's cycle collector around bulk work (imports, whole-layer exports).

The collector scans every tracked container each time a few hundred thousand objects have been
allocated; a 200,000-estate import or export allocates millions (rows, dicts, tuples) that form no
reference cycles, and a tenth of its time went to those scans. Reference counting frees all of it
as usual. The pause is process-wide, so it is used only where the work has a bounded length: an
import, a CLI export, a file built before it is sent; never around a stream a slow client paces.
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def cycle_collector_paused():
    """Collector off inside the block, back to how it was after it, however the block ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
