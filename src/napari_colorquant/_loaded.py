"""OpenCV for kernels that NumPy also computes exactly: a sort of colour keys and a palette lookup.

OpenCV is faster at both (on a 0.27 MP photo about 5 ms and 0.5 ms less CPU), and a long-lived process (the
widget, a script quantizing many images) imports it once and keeps the gain. Importing it costs about 16 ms of
CPU, though (measured on the development machine): more than a single small photo's run saves with it. The
CLI on one input therefore says so (:func:`keep_opencv_unloaded`), and these kernels then use OpenCV only if
something else has loaded it. Either way the results are the same: both compute an integer sort or a table
lookup, exactly.
"""

from __future__ import annotations

import sys
from types import ModuleType

_IMPORT_ON_DEMAND = True


def keep_opencv_unloaded() -> None:
    """Use OpenCV for the kernels of this module only when something else has imported it (a short process)."""
    global _IMPORT_ON_DEMAND
    _IMPORT_ON_DEMAND = False


def opencv() -> ModuleType | None:
    """``cv2`` (imported now if needed), or None after :func:`keep_opencv_unloaded` while it is not loaded.

    Returns
    -------
    module or None
        The ``cv2`` module; an import started by another thread is waited for (the import lock).
    """
    if not _IMPORT_ON_DEMAND and "cv2" not in sys.modules:
        return None
    import cv2

    return cv2
