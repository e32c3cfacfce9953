"""Import, once per process and in a background thread, the libraries a first run would wait for.

The core imports SciPy's ``ndimage`` (spatial smoothing) lazily, so that ``import napari_colorquant``
and the CLI stay fast; k-means++ starts, EM and the CIEDE2000 figures need neither scikit-learn,
SciPy's linear algebra nor ``skimage.color`` any more (importing ``sklearn.cluster`` here cost ~0.8 s
of CPU in the background for nothing). In the widget the first run with smoothing would pay for that
import (~0.17 s of CPU with napari loaded) on top of the clustering, and the explorer's first plot
built matplotlib's mathtext parser (log-scale tick labels are mathtext; another ~0.3 s), and
napari's first Labels layer made vispy's dash patterns for its outline visual (~0.06 s of the GUI
thread) and imported the scikit-image colour conversions (and SciPy's linear algebra) of its default
colours; a tiny clustering builds what the core makes once per process; and the screen's DPI is
asked once, for the separate feature window's canvas (:mod:`.second_viewer`); and vispy reads its
shaders' sources without two slow regular expressions (:mod:`.shader_sources`, ~30 ms of each first
paint). The widget starts this thread when it opens, while the user picks an image and the parameters;
a run that starts earlier simply waits on the same imports.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Callable

from . import collector, second_viewer, shader_sources

#: Imported in this order.
MODULES = ("scipy.ndimage",)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start() -> threading.Thread:
    """Start the warm-up thread (once per process).

    Returns
    -------
    threading.Thread
        The thread (already started; the same one on later calls).
    """
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_import_all, name="napari-colorquant warm-up", daemon=True)
            _thread.start()
        return _thread


def after(callback: Callable[[], object], poll_ms: int = 50, limit_s: float = 5.0) -> None:
    """Call ``callback`` on the GUI thread once the warm-up thread has finished (at most ``limit_s`` later).

    For GUI work that can wait a moment after the widget opens (docking the explorer): done while the
    warm-up thread imports, it waits on the GIL those imports hold, and its freeze doubles.

    Parameters
    ----------
    callback : callable
        Called with no arguments, on the GUI thread.
    poll_ms : int
        How often the thread is checked.
    limit_s : float
        ``callback`` runs after this long in any case.
    """
    from qtpy.QtCore import QTimer

    deadline = time.perf_counter() + limit_s

    def check() -> None:
        if _thread is not None and _thread.is_alive() and time.perf_counter() < deadline:
            QTimer.singleShot(poll_ms, check)
        else:
            callback()

    QTimer.singleShot(0, check)


def _import_all() -> None:
    shader_sources.install()  # vispy's shader parsing without its slow regexes: shorter first paints
    for name in MODULES:
        with contextlib.suppress(ImportError):  # a run that needs it says what is missing
            importlib.import_module(name)
    with contextlib.suppress(ImportError):
        from matplotlib.mathtext import MathTextParser

        MathTextParser("path").parse(r"$\mathdefault{10^{2}}$")  # builds the parser once per process
    with contextlib.suppress(ImportError):  # napari's default Labels colours load skimage.color's conversions lazily
        from napari.utils.colormaps import label_colormap

        label_colormap(49)  # its modules were imported in the first run's turn making the clusters layer (~10-40 ms)
    with contextlib.suppress(ImportError):
        from vispy.visuals.line.dash_atlas import DashAtlas

        DashAtlas()  # its dash patterns are cached per process: the first Labels layer's outline visual reuses them
    second_viewer.measure_dpi()  # the feature window's canvas then need not ask the X server itself
    _first_fit()
    collector.warmed()  # what a run needs is loaded: keep full collections off these objects


def _first_fit() -> None:
    """One tiny clustering: what the core builds once per process (the BLAS thread controller, which scans
    the loaded libraries, ~0.05-0.1 s; first calls of its kernels) is then ready for the first run."""
    import numpy as np

    from .. import _threads, quantize

    with _threads.single_threaded_blas():
        pass
    tiny = (np.arange(48 * 48 * 3) % 251).astype(np.uint8).reshape(48, 48, 3)
    quantize(tiny, 2).summary()
