"""``napari-colorquant-viewer``: open napari with a sample image and the clustering widget docked.

napari-colorquant-viewer                        # colour photo, k-means widget
napari-colorquant-viewer --sample plate --widget em --run
napari-colorquant-viewer --run --screenshot shot.png   # run once, save a screenshot, quit
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..params import MAX_CLUSTERS
from ..samples import SAMPLE_ALIASES, SAMPLES, canonical_sample

WIDGETS = {"kmeans": "K-means clustering", "em": "EM clustering"}
#: napari sample key (napari.yaml) of each sample.
NAPARI_SAMPLES = {"china": "photo", "flower": "flower", "plate": "plate", "kidney": "fluorescence"}
#: K preset per sample when ``-k`` is not given: the plate is a binarization exercise.
DEFAULT_CLUSTERS = {"plate": 2}
#: Window size the viewer opens with, shrunk to the screen when the screen is smaller.
WINDOW_SIZE = (1500, 950)


#: The docstring's first line without its reStructuredText name: what --help says.
_DESCRIPTION = __doc__.splitlines()[0].split(": ", 1)[1].capitalize()


def build_parser() -> argparse.ArgumentParser:
    """The viewer's argument parser.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(prog="napari-colorquant-viewer", description=_DESCRIPTION)
    names = sorted({*SAMPLES, *SAMPLE_ALIASES})
    parser.add_argument("--sample", choices=names, default="photo",
                        help="sample image to open (napari-colorquant's names; default: photo)")  # fmt: skip
    parser.add_argument("--widget", choices=sorted(WIDGETS), default="kmeans", help="widget to dock (default: kmeans)")
    parser.add_argument("-k", "--clusters", type=int, default=None,
                        help=f"number of clusters preset in the widget, 1..{MAX_CLUSTERS} (default: 2 for the plate, "
                        "8 otherwise)")  # fmt: skip
    parser.add_argument("--run", action="store_true", help="press Run once the viewer is up (default: off)")
    parser.add_argument("--screenshot", help="with --run: save a screenshot of the viewer here, then quit")
    return parser


def missing_napari() -> str | None:
    """Why the viewer cannot start without napari (the plain ``pip install`` is headless), or None.

    Returns
    -------
    str or None
        What to install, or None when napari is importable.
    """
    import importlib.util

    if importlib.util.find_spec("napari") is None:
        return (
            "napari is not installed (the plain install is headless: napari-colorquant works without it); "
            'pip install "napari-colorquant[all]"'
        )
    return None


def display_problem() -> str | None:
    """Why Qt cannot open a window here (Linux without a display), or None; checked before Qt is imported.

    Returns
    -------
    str or None
        A message saying how to run it (e.g. under ``xvfb-run``), or None when a window can open.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display (DISPLAY and WAYLAND_DISPLAY are unset): run it on a desktop, or on a virtual screen with "
        'xvfb-run -a -s "-screen 0 1600x1000x24" napari-colorquant-viewer'
    )


def fit_window(viewer: Any) -> None:
    """Give the window :data:`WINDOW_SIZE`, or most of the screen when that is smaller.

    Parameters
    ----------
    viewer : napari.Viewer
    """
    window = viewer.window._qt_window
    screen = window.screen().availableGeometry()
    width = min(WINDOW_SIZE[0], int(screen.width() * 0.95))
    height = min(WINDOW_SIZE[1], int(screen.height() * 0.95))
    window.resize(width, height)


def open_viewer(sample: str, widget_name: str, n_clusters: int) -> tuple[Any, Any]:
    """A viewer with ``sample`` open, the widget docked and preset, and the whole image in view.

    Parameters
    ----------
    sample : str
        A sample name (:data:`NAPARI_SAMPLES`).
    widget_name : str
        A key of :data:`WIDGETS`.
    n_clusters : int
        K preset in the widget.

    Returns
    -------
    (napari.Viewer, ClusterWidget)
    """
    import napari

    viewer = napari.Viewer(title="napari-colorquant")
    fit_window(viewer)
    viewer.open_sample("napari-colorquant", NAPARI_SAMPLES[sample])
    _, widget = viewer.window.add_plugin_dock_widget("napari-colorquant", WIDGETS[widget_name])
    widget.n_clusters.value = n_clusters
    if sample == "kidney":
        layers = [layer for layer in viewer.layers if layer.name.startswith("kidney")]
        widget.image.value = layers[0]
        widget.channels.value = layers[1:]
    show_whole_image(viewer)
    return viewer, widget


def show_whole_image(viewer: Any) -> None:
    """Let Qt lay out the window (the dock takes canvas width), then fit the whole image in the canvas.

    Parameters
    ----------
    viewer : napari.Viewer
    """
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    viewer.reset_view()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``napari-colorquant-viewer``.

    Parameters
    ----------
    argv : sequence of str, optional
        As for :func:`napari_colorquant.cli.main`.

    Returns
    -------
    int
        0, 1 when no window can open; bad arguments exit with status 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    sample = canonical_sample(args.sample)
    n_clusters = DEFAULT_CLUSTERS.get(sample, 8) if args.clusters is None else args.clusters
    if not 1 <= n_clusters <= MAX_CLUSTERS:
        parser.error(f"-k/--clusters must be between 1 and {MAX_CLUSTERS}, got {n_clusters}")
    if args.screenshot and not args.run:
        parser.error("--screenshot needs --run")
    problem = missing_napari() or display_problem()
    if problem:
        print(f"napari-colorquant-viewer: error: {problem}", file=sys.stderr)
        return 1

    import napari
    from qtpy.QtWidgets import QApplication

    viewer, widget = open_viewer(sample, args.widget, n_clusters)
    if args.run:
        widget.run()
        deadline = time.monotonic() + 120
        while (widget.busy or _explorer_drawing(viewer)) and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.02)
        show_whole_image(viewer)
        if args.screenshot:
            viewer.screenshot(args.screenshot, canvas_only=False, flash=False)
            widget.close_feature_viewer()
            viewer.close()
            print(f"saved {args.screenshot}")
            return 0
    napari.run()
    return 0


def _explorer_drawing(viewer) -> bool:
    """The explorer is still computing or rendering its plot (a screenshot now shows it half drawn)."""
    from .explorer import find_explorer

    explorer = find_explorer(viewer)
    return explorer is not None and (explorer.busy or explorer.plot.canvas.busy)


if __name__ == "__main__":
    sys.exit(main())
