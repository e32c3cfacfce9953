"""The explorer's cluster table: swatch, editable name, pixel count and %, mean features, EM weight."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


class ClusterTable(QWidget):
    """One row per cluster; selecting rows shows those clusters; buttons merge, mask, hide and recolour."""

    def __init__(self, explorer) -> None:
        super().__init__()
        self.explorer = explorer
        self.grid = QTableWidget()
        self.grid.setMinimumHeight(140)
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.merge_button = QPushButton("Merge")
        self.mask_button = QPushButton("→ mask")
        self.show_all_button = QPushButton("Show all")
        self.recolour_button = QPushButton("Recolour…")
        buttons = QHBoxLayout()
        for button in (self.merge_button, self.mask_button, self.recolour_button, self.show_all_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
        layout.addLayout(buttons)
        self._updating = False
        self.grid.itemSelectionChanged.connect(self._on_rows_selected)
        self.grid.itemChanged.connect(self._on_item_changed)
        self.merge_button.clicked.connect(
            lambda: explorer._guarded(explorer.merge_clusters, self.selected_labels(), True)
        )
        self.mask_button.clicked.connect(lambda: explorer._guarded(explorer.clusters_to_mask, self.selected_labels()))
        self.show_all_button.clicked.connect(lambda: explorer._guarded(explorer.show_all_clusters))
        self.recolour_button.clicked.connect(self._recolour_dialog)

    def show(self, stats: dict[str, np.ndarray], colours: np.ndarray, names: list[str], axis_labels: list[str]) -> None:
        """Fill the table from :func:`explore.cluster_statistics`.

        Parameters
        ----------
        stats : dict of str to ndarray
            Per-cluster statistics (label, count, percent, feature means, EM weight).
        colours : ndarray (K, 3) or (K, 4)
            Each cluster's display colour (0..1).
        names : list of str
            Each cluster's name (editable in the table).
        axis_labels : list of str
            Feature names with units, for the mean columns' headers.
        """
        self._updating = True
        try:
            means = [k for k in stats if k.startswith("mean ")]
            columns = ["", "name", "pixels", "%", *_mean_headers(means, axis_labels)]
            if "weight" in stats:
                columns.append("EM weight")
            self.grid.clear()
            self.grid.setColumnCount(len(columns))
            self.grid.setRowCount(len(names))
            self.grid.setHorizontalHeaderLabels(columns)
            for row in range(len(names)):
                swatch = QTableWidgetItem()
                swatch.setBackground(QColor.fromRgbF(*[float(c) for c in colours[row][:3]]))
                swatch.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.grid.setItem(row, 0, swatch)
                self.grid.setItem(row, 1, QTableWidgetItem(names[row]))
                cells = [f"{stats['count'][row]:,.0f}", f"{stats['percent'][row]:.2f}"]
                cells += [_mean_text(stats[k][row]) for k in means]
                if "weight" in stats:
                    cells.append(f"{stats['weight'][row]:.4f}")
                for offset, text in enumerate(cells, start=2):
                    item = QTableWidgetItem(text)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                    self.grid.setItem(row, offset, item)
            self.grid.resizeColumnsToContents()
        finally:
            self._updating = False

    def selected_labels(self) -> list[int]:
        """Labels (1..K) of the selected rows.

        Returns
        -------
        list of int
        """
        return sorted({index.row() + 1 for index in self.grid.selectionModel().selectedRows()})

    def select_labels(self, labels: list[int]) -> None:
        """Select the rows of ``labels`` (without emitting a new cluster selection).

        Parameters
        ----------
        labels : list of int
            Cluster labels 1..K; an empty list clears the selection.
        """
        self._updating = True
        try:
            self.grid.clearSelection()
            for label in labels:
                self.grid.selectRow(label - 1) if len(labels) == 1 else self._add_row(label - 1)
        finally:
            self._updating = False

    def _add_row(self, row: int) -> None:
        model = self.grid.selectionModel()
        index = self.grid.model().index(row, 0)
        model.select(index, model.SelectionFlag.Select | model.SelectionFlag.Rows)

    def _on_rows_selected(self) -> None:
        labels = self.selected_labels()
        if not self._updating and labels:
            self.explorer._guarded(self.explorer.select_clusters, labels)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if not self._updating and item.column() == 1:
            self.explorer._guarded(self.explorer.rename_cluster, item.row() + 1, item.text())

    def _recolour_dialog(self) -> None:
        labels = self.selected_labels()
        if len(labels) != 1:
            self.explorer.status.setText("select one cluster to recolour")
            return
        colour = QColorDialog.getColor(parent=self)
        if colour.isValid():
            self.explorer._guarded(self.explorer.recolour_cluster, labels[0], colour.getRgbF())


def _mean_text(value: float) -> str:
    """Four significant digits, but 16-bit means in full (33030, not 3.303e+04, which also hides 33030 vs 33040)."""
    return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def _mean_headers(keys: list[str], axis_labels: list[str]) -> list[str]:
    """Headers of the mean columns: the plot's feature names (``"mean DAPI"`` over its unit), one per feature.

    The statistics name features as the model does (``"mean channel 0"`` for unnamed channels); the
    plot and the layers use the channel names, so the table does too when there is one label per feature.
    """
    if len(axis_labels) != len(keys):
        return keys
    headers = []
    for label in axis_labels:
        name, bracket, unit = label.partition(" (")
        headers.append(f"mean {name}\n({unit}" if bracket else f"mean {name}")
    return headers
