"""A drop-down list that shows a long name elided in its middle, whole in its tooltip and its open list.

Microscopy channels carry names such as ``"Alexa Fluor 488 - GFP"``; in a narrow dock Qt's combo box cut
them at its right edge (``"Alexa Fl"``), which hides the part that tells two stains apart. The explorer's
pickers are :class:`ElidedComboBox`; a combo box made elsewhere (magicgui's, in the feature window) draws the
same way once given to :func:`elide_in_middle`.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QComboBox, QStyle, QStyleOptionComboBox, QStylePainter, QWidget

#: Characters the closed box asks room for; longer names are elided, not given more width.
MIN_CHARACTERS = 3


def shown_text(box: QComboBox) -> str:
    """A combo box's current text as its closed box has room for it: whole when it fits, else elided in the middle.

    Parameters
    ----------
    box : QComboBox

    Returns
    -------
    str
    """
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    field = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                       QStyle.SubControl.SC_ComboBoxEditField, box)  # fmt: skip
    return box.fontMetrics().elidedText(box.currentText(), Qt.TextElideMode.ElideMiddle, max(field.width(), 0))


def paint_elided(box: QComboBox) -> None:
    """Draw a combo box as Qt does, only with its current text as :func:`shown_text` gives it (inside a paint event).

    Parameters
    ----------
    box : QComboBox
    """
    painter = QStylePainter(box)
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
    option.currentText = shown_text(box)
    painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


def fit_list(box: QComboBox) -> None:
    """Make a combo box's open list as wide as its longest item (a scroll bar's width added).

    Parameters
    ----------
    box : QComboBox
    """
    metrics = box.fontMetrics()
    widest = max((metrics.horizontalAdvance(box.itemText(i)) for i in range(box.count())), default=0)
    box.view().setMinimumWidth(widest + 2 * metrics.averageCharWidth() + 20)


class _ElidingPainter(QObject):
    """Paints the combo box it watches with :func:`paint_elided` instead of Qt's own paint."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Take the box's paint events.

        Parameters
        ----------
        watched : QObject
        event : QEvent

        Returns
        -------
        bool
            True for a paint event of a combo box (drawn here), else False.
        """
        if event.type() == QEvent.Type.Paint and isinstance(watched, QComboBox):
            paint_elided(watched)
            return True
        return False


def elide_in_middle(box: QComboBox) -> None:
    """Make a combo box made elsewhere (e.g. magicgui's) draw a long current text elided in the middle.

    Parameters
    ----------
    box : QComboBox
    """
    if box.findChild(_ElidingPainter) is None:
        box.installEventFilter(_ElidingPainter(box))  # a child of the box: it lives as long as the box


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
        return shown_text(self)

    def _fit_list(self, *_) -> None:
        fit_list(self)

    def paintEvent(self, event: object) -> None:
        """Draw the box with the elided text (Qt's own drawing, only the label's text changed).

        Parameters
        ----------
        event : QPaintEvent
        """
        if self.toolTip() != self.currentText():
            self.setToolTip(self.currentText())
        paint_elided(self)
