"""The Python snippet of docs/explorer.md runs line by line after the run its comment describes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

EXPLORER_MD = Path(__file__).parents[2] / "docs" / "explorer.md"


def test_explorer_md_snippet_runs_as_written(make_viewer, dock, run_and_wait, china, monkeypatch, tmp_path):
    import napari

    (code,) = re.findall(r"^```python\n(.*?)^```", EXPLORER_MD.read_text(encoding="utf-8"), flags=re.S | re.M)
    viewer = make_viewer(show=True)
    viewer.add_image(np.ascontiguousarray(np.asarray(china)[::4, ::4]), name="china")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 4  # what the snippet's comment says the user ran
    widget.color_space.value = "ycrcb-chroma"
    widget.feature_view.value = "none"
    run_and_wait(widget)
    monkeypatch.setattr(napari, "Viewer", lambda *args, **kwargs: viewer)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "docs/explorer.md python block", "exec"), namespace)
    assert namespace["explorer"].axis_names == ("Cb", "Cr")  # the shown axes, after show_axes(1, 0)
    assert {"china selection", "china objects", "china mask"} <= {layer.name for layer in viewer.layers}
    assert (tmp_path / "feature_space.svg").stat().st_size > 0
