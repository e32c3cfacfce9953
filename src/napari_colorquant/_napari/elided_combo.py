"""A drop-down list that shows a long name elided in its middle, whole in its tooltip and its open list.

Microscopy channels carry names such as ``"Alexa Fluor 488 - GFP"``; in a narrow dock Qt's combo box cut
them at its right edge (``"Alexa Fl"``), which hides the part that tells two stains apart.
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

#: Characters the closed box asks room for; longer names are elided, not given more width.
MIN_CHARACTERS = 3


class ElidedComboBox(QComboBox):
    """A :class:`QComboBox` whose closed box elides the current text in the middle (both ends kept).

    The tooltip holds the whole current text, and the open list is wide enough for every item.

    Parameters
    ----------
    parent : QWidget, optional
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(MIN_CHARACTERS)
        self.currentTextChanged.connect(self.setToolTip)  # also set when painted: a caller may block the signal
        model = self.model()
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset, model.dataChanged):
            signal.connect(self._fit_list)

    def shown_text(self) -> str:
        """The current text as the closed box draws it: whole when it fits, else elided in the middle.

        Returns
        -------
        str
        """
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideMiddle, self._field_width())

    def _field_width(self) -> int:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)  # fmt: skip
        return max(field.width(), 0)

    def _fit_list(self, *_) -> None:
        """The open list as wide as its longest item (a scroll bar's width added)."""
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        self.view().setMinimumWidth(widest + 2 * metrics.averageCharWidth() + 20)

    def paintEvent(self, event: object) -> None:
        """Draw the box with the elided text (Qt's own drawing, only the label's text changed).

        Parameters
        ----------
        event : QPaintEvent
        """
        if self.toolTip() != self.currentText():
            self.setToolTip(self.currentText())
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)
