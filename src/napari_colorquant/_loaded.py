"""OpenCV for kernels that NumPy also computes exactly, when the process has already loaded it.

Importing OpenCV costs about 16 ms of CPU (measured on the development machine), more than its sort and colour
map save on a 0.27 MP photo (about 5 ms and 0.5 ms). A short process that needs nothing else from OpenCV, the CLI
on a small photo, is faster without it; a process that has it loaded already uses it. Either way the results are
the same: both compute an integer sort or a table lookup, exactly.
"""

from __future__ import annotations

import sys
from types import ModuleType


def opencv_if_loaded() -> ModuleType | None:
    """``cv2`` if this process has imported it (or another thread is importing it), else None.

    Returns
    -------
    module or None
        The ``cv2`` module; an import started by another thread is waited for (the import lock).
    """
    if "cv2" not in sys.modules:
        return None
    import cv2

    return cv2
