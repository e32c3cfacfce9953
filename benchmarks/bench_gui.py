"""The widget round trip in a real napari viewer: how long a user waits after Run, and whether the canvas freezes.

    python benchmarks/bench_gui.py              # 0.27 MP photo and a 12 MP image
    python benchmarks/bench_gui.py --quick      # 0.27 MP photo only

For each image, in one process (the first rows pay the process's first-call costs):

* **core** — :func:`napari_colorquant.quantize` alone (K = 8, k-means, defaults), first call and best repeat;
* **round trip** — Run pressed → every output layer in the viewer and painted (the event loop pumped
  until the worker has finished and the outputs are placed), first run and best repeat;
* **overhead** — round trip minus the core time of the same run (first with first, repeat with repeat);
* **longest gap** — the longest stretch the Qt event loop did not turn (a 1 ms timer ticks throughout)
  after the worker returned, until 0.3 s after the outputs were placed (placing and painting the
  outputs): what a user sees as a frozen canvas at the end of a run.

The feature-space view is measured as the user gets it by default (a separate window) and switched off.
The 12 MP image is ``../shared/data/large_lomiri_sunset_12MP.jpg`` when present, else scikit-learn's
china.jpg upscaled (cubic) to 4000 × 3000. Without a display, a virtual one (Xvfb) is started.
Not a test: nothing is asserted; figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3


def _display():
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        from pyvirtualdisplay import Display

        display = Display(visible=False, size=(1600, 1000))
        display.start()
        return display
    return None


def load_images(quick: bool) -> list[tuple[str, np.ndarray]]:
    """The 0.27 MP photo and (unless quick) a 12 MP image."""
    from sklearn.datasets import load_sample_image

    china = load_sample_image("china.jpg")
    images = [("china 0.27 MP", china)]
    if quick:
        return images
    shared = Path(os.environ.get("COLORQUANT_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = shared / "large_lomiri_sunset_12MP.jpg"
    if path.is_file():
        from PIL import Image

        big = np.asarray(Image.open(path).convert("RGB"))
        images.append((f"{path.name} {big.shape[0] * big.shape[1] / 1e6:.1f} MP", big))
    else:
        import cv2

        big = cv2.resize(china, (4000, 3000), interpolation=cv2.INTER_CUBIC)
        images.append(("china upscaled 12 MP", big))
    return images


class GapMeter:
    """A 1 ms Qt timer; the longest interval between its ticks is the longest event-loop stall."""

    def __init__(self) -> None:
        from qtpy.QtCore import QTimer

        self.ticks: list[float] = []
        self._timer = QTimer()
        self._timer.setInterval(1)
        self._timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self._timer.start()

    def stop(self, after: float = 0.0) -> float:
        """Stop; the longest gap that ended after ``after`` (a perf_counter time)."""
        self._timer.stop()
        ticks = np.array([*self.ticks, time.perf_counter()])
        gaps = np.diff(ticks)
        return float(gaps[ticks[1:] > after].max())


def pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def widget_run(app, widget, meter: GapMeter) -> tuple[float, float]:
    """Press Run; return (round trip, longest event-loop gap)."""
    placed, returned = [], []
    widget.placer.after_run.append(lambda result, source: placed.append(time.perf_counter()))
    on_done = type(widget)._on_done

    def mark(outcome):  # the worker has returned: from here on, all work is on the GUI thread
        returned.append(time.perf_counter())
        on_done(widget, outcome)

    widget._on_done = mark
    meter.start()
    start = time.perf_counter()
    widget.run()
    while widget.worker is not None or not placed:
        app.processEvents()
        time.sleep(0.0005)
    app.processEvents()  # the paint that shows the new layers
    round_trip = time.perf_counter() - start
    pump(app, 0.3)
    gap = meter.stop(after=returned[0])
    widget.placer.after_run.pop()
    object.__delattr__(widget, "_on_done")
    if not widget.status.value.startswith("done"):
        raise RuntimeError(f"run failed: {widget.status.value}: {widget.report.value}")
    return round_trip, gap


def bench_image(app, name: str, image: np.ndarray, view: str, k: int) -> dict:
    import napari

    from napari_colorquant import quantize

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    viewer.add_image(image, name="image", rgb=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-colorquant", "K-means clustering")
    widget.n_clusters.value = k
    widget.feature_view.value = view
    meter = GapMeter()
    pump(app, 0.3)
    rows = {}
    for attempt in range(1 + REPEATS):
        start = time.perf_counter()
        quantize(image, k)
        core = time.perf_counter() - start
        trip, gap = widget_run(app, widget, meter)
        rows.setdefault("core", []).append(core)
        rows.setdefault("trip", []).append(trip)
        rows.setdefault("gap", []).append(gap)
        print(f"  {name:28s} view={view:15s} run {attempt}: core {core:.3f} s, round trip {trip:.3f} s, "
              f"longest gap {gap * 1000:.0f} ms", flush=True)  # fmt: skip
    widget.close_feature_viewer()
    viewer.close()
    pump(app, 0.2)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 0.27 MP photo only")
    parser.add_argument("-k", type=int, default=8)
    args = parser.parse_args(argv)
    display = _display()
    try:
        from napari._qt.qt_event_loop import get_qapp

        app = get_qapp()
        results = []
        for name, image in load_images(args.quick):
            for view in ("separate window", "none"):
                results.append((name, view, bench_image(app, name, image, view, args.k)))
        print()
        print("| image | feature view | core first | core repeat | round trip first | round trip repeat | "
              "overhead first | overhead repeat | longest gap first | longest gap repeat |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, view, rows in results:
            core, trip, gap = rows["core"], rows["trip"], rows["gap"]
            best = int(np.argmin(trip[1:])) + 1
            print(f"| {name} | {view} | {core[0]:.3f} s | {min(core[1:]):.3f} s | {trip[0]:.3f} s | "
                  f"{trip[best]:.3f} s | {trip[0] - core[0]:.3f} s | {trip[best] - core[best]:.3f} s | "
                  f"{gap[0] * 1000:.0f} ms | {max(gap[1:]) * 1000:.0f} ms |")  # fmt: skip
    finally:
        if display is not None:
            display.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
