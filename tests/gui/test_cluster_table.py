"""The explorer's cluster table names its mean columns as the plot names its axes."""

from __future__ import annotations

import numpy as np

import napari_colorquant as ncq


class _Explorer:
    """The table's owner, reduced to what filling the table touches."""

    status = None

    def _guarded(self, *args):  # pragma: no cover - no clicks here
        raise AssertionError("no action expected")


def _headers(table) -> list[str]:
    grid = table.grid
    return [grid.horizontalHeaderItem(i).text() for i in range(grid.columnCount())]


def test_mean_columns_carry_the_channel_names_of_the_plot(qtbot):
    from napari_colorquant._napari.cluster_table import ClusterTable

    table = ClusterTable(_Explorer())
    qtbot.addWidget(table)
    stats = {"label": np.array([1, 2]), "count": np.array([10.0, 30.0]), "percent": np.array([25.0, 75.0]),
             "mean channel 0": np.array([100.0, 2000.0]), "mean channel 1": np.array([5.0, 60.0])}  # fmt: skip
    labels = ["DAPI (0–65535)", "AF488 (0–65535)"]
    table.show(stats, np.array([[0, 0, 1.0], [1.0, 0, 0]]), ["cluster 1", "cluster 2"], labels)
    headers = _headers(table)
    assert [" ".join(h.split()) for h in headers[4:]] == ["mean DAPI (0–65535)", "mean AF488 (0–65535)"]
    assert not any("channel" in h for h in headers)
    assert table.grid.item(1, 4).text() == "2000" and table.grid.item(1, 5).text() == "60"


def test_table_of_a_run_on_named_channel_layers(make_viewer, dock, run_and_wait):
    """Two channel layers named DAPI and GFP: the table says DAPI and GFP, as the plot's axes do."""
    viewer = make_viewer()
    rng = np.random.default_rng(0)
    dapi = viewer.add_image(rng.integers(0, 4000, (48, 48), dtype=np.uint16), name="DAPI")
    viewer.add_image(rng.integers(0, 4000, (48, 48), dtype=np.uint16), name="GFP")
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.image.value = dapi
    widget.channels.value = [viewer.layers["GFP"]]
    widget.n_clusters.value = 3
    run_and_wait(widget)
    explorer = ncq.feature_explorer(viewer)
    assert explorer is not None
    means = [" ".join(h.split()) for h in _headers(explorer.table)[4:7]]
    assert means[0].startswith("mean DAPI") and means[1].startswith("mean GFP"), means
    assert explorer.plot.axes.get_xlabel().startswith("DAPI")


def test_16_bit_means_are_written_out_not_in_scientific_notation(qtbot):
    """Mean intensities of a uint16 image (HeLa nuclei: 33,030 and 33,100) read as numbers, not 3.303e+04."""
    from napari_colorquant._napari.cluster_table import ClusterTable

    table = ClusterTable(_Explorer())
    qtbot.addWidget(table)
    stats = {"label": np.array([1, 2]), "count": np.array([10.0, 30.0]), "percent": np.array([25.0, 75.0]),
             "mean intensity": np.array([33030.4, 33100.2])}  # fmt: skip
    table.show(stats, np.array([[0, 0, 0.0], [0.1, 0.1, 0.1]]), ["cluster 1", "cluster 2"], ["intensity (0–65535)"])
    assert [table.grid.item(row, 4).text() for row in (0, 1)] == ["33030", "33100"]
