"""Fixtures for tests with a real napari viewer (run under Xvfb by pytest-xvfb)."""

from __future__ import annotations

import pytest


@pytest.fixture
def notifications(monkeypatch):
    """Messages the widget shows as napari notifications, by level."""
    from napari_colorquant._napari import widget as _widgets

    seen: dict[str, list[str]] = {"error": [], "warning": [], "info": []}
    for level in seen:
        original = getattr(_widgets, f"show_{level}")

        def capture(message, _level=level, _original=original):
            seen[_level].append(str(message))
            _original(message)

        monkeypatch.setattr(_widgets, f"show_{level}", capture)
    return seen


@pytest.fixture
def dock(qtbot):
    """A viewer with a sample loaded, and a function docking a widget by its plugin name."""

    def open_widget(viewer, name="K-means clustering"):
        _, widget = viewer.window.add_plugin_dock_widget("napari-colorquant", name)
        return widget

    return open_widget


@pytest.fixture
def run_and_wait(qtbot):
    """Press Run and wait until the worker has finished (returned or errored)."""

    def run(widget, timeout=60_000):
        widget.run()
        qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)

    return run


@pytest.fixture
def cluster_in_widget(dock, run_and_wait):
    """``cluster_in_widget(viewer, n_clusters)``: dock the K-means widget, run it on the selected image without the
    feature window, and return the viewer holding its outputs."""

    def run(viewer, n_clusters):
        widget = dock(viewer)
        widget.n_clusters.value, widget.feature_view.value = n_clusters, "none"
        run_and_wait(widget)
        return viewer

    return run


@pytest.fixture
def cluster_stack(make_viewer, dock, run_and_wait):
    """``cluster_stack(data, channel_axis, show=False, name="stack", widget_name=..., **layer_kw)``: add ``data`` as
    one image layer (``layer_kw`` its placement), cluster it into 3 along ``channel_axis`` without the feature
    window, and return ``(viewer, widget)``."""

    def run(data, axis, show=False, name="stack", widget_name="K-means clustering", **layer_kw):
        viewer = make_viewer(show=show)
        viewer.add_image(data, name=name, **layer_kw)
        widget = dock(viewer, widget_name)
        widget.channel_axis.value = axis
        widget.n_clusters.value, widget.feature_view.value = 3, "none"
        run_and_wait(widget)
        return viewer, widget

    return run
