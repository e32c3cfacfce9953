"""``napari-colorquant-viewer``: open napari with a sample image and the clustering widget docked.

napari-colorquant-viewer                        # colour photo, k-means widget
napari-colorquant-viewer --sample plate --widget em --run
napari-colorquant-viewer --run --screenshot shot.png   # run once, save a screenshot, quit
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

WIDGETS = {"kmeans": "K-means clustering", "em": "EM clustering"}
SAMPLES = ("photo", "plate", "fluorescence")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``napari-colorquant-viewer``."""
    parser = argparse.ArgumentParser(prog="napari-colorquant-viewer", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=SAMPLES, default="photo", help="sample image to open")
    parser.add_argument("--widget", choices=sorted(WIDGETS), default="kmeans", help="widget to dock")
    parser.add_argument("-k", "--clusters", type=int, default=8, help="number of clusters preset in the widget")
    parser.add_argument("--run", action="store_true", help="press Run once the viewer is up")
    parser.add_argument("--screenshot", help="with --run: save a screenshot of the viewer here, then quit")
    args = parser.parse_args(argv)

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="napari-colorquant")
    viewer.open_sample("napari-colorquant", args.sample)
    _, widget = viewer.window.add_plugin_dock_widget("napari-colorquant", WIDGETS[args.widget])
    widget.n_clusters.value = args.clusters
    if args.sample == "fluorescence":
        layers = [layer for layer in viewer.layers if layer.name.startswith("kidney")]
        widget.image.value = layers[0]
        widget.channels.value = layers[1:]
    if args.run:
        widget.run()
        deadline = time.monotonic() + 120
        while widget.worker is not None and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.02)
        QApplication.processEvents()
        if args.screenshot:
            viewer.window._qt_window.resize(1280, 860)
            viewer.screenshot(args.screenshot, canvas_only=False, flash=False)
            widget.close_feature_viewer()
            viewer.close()
            print(f"saved {args.screenshot}")
            return 0
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
