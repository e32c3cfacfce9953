"""Pixel passes of the explorer off the GUI thread: a napari thread worker, the panel showing it is busy.

A mixin of :class:`~.explorer.FeatureExplorer` (which holds ``status`` and ``busy_bar``). A selection
reaching every pixel of a big image, the count of a brushed region, the layers' rewrite after a
merge and the index of a newly shown pair of features (one pass over every distinct value: a few
hundred ms on a 12 MP photo, e.g. after a pick in the feature window) run in a worker; only the newest
job of each kind lands (a quick second lasso replaces the first one's result; a second merge waits for
the first).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import explore

#: Images (or regions) with at least this many pixels are passed over in a worker; smaller ones take
#: milliseconds, less than a worker's start-up.
BACKGROUND_PIXELS = 2_000_000
#: A pair of features is indexed in a worker when the run has at least this many distinct values.
BACKGROUND_VALUES = 1 << 18


class Background:
    """Start workers for the explorer's pixel passes and show that the panel is busy."""

    def _init_background(self) -> None:
        self._tokens: dict[str, int] = {}
        self._running: dict = {}  # worker -> kind

    @property
    def busy(self) -> bool:
        """A selection or a brushed count is running in the background."""
        return bool(self._running)

    def running(self, kind: str) -> bool:
        """A job of ``kind`` ("selection", "brush", "merge") is running.

        Parameters
        ----------
        kind : str
            The job kind.

        Returns
        -------
        bool
        """
        return kind in self._running.values()

    def _indexing(self, axes: tuple[int, int], then: Callable[[], object]) -> bool:
        """Start indexing pair ``axes`` of ``self.data`` in a worker unless it is quick; ``then()`` once it is made.

        Returns
        -------
        bool
            True when the index is being made in a worker (the caller returns; ``then`` runs afterwards).
        """
        data = self.data
        if explore.shown_values_ready(data, axes) or data.features.shape[0] < BACKGROUND_VALUES:
            return False
        before = self.status.text()

        def indexed(_) -> None:
            self.status.setText(before)  # what it said before "indexing…"
            then()

        self._in_background("index", lambda: explore.shown_values(data, axes), indexed,
                            f"indexing {data.features.shape[0]:,} values for these axes…")  # fmt: skip
        return True

    def _in_background(self, kind: str, compute: Callable, done: Callable, message: str) -> None:
        """Run ``compute()`` in a worker, then ``done(value)`` on the GUI thread if no newer ``kind`` job started."""
        from napari.qt.threading import create_worker
        from napari.utils.notifications import show_error

        token = self._tokens.get(kind, 0) + 1
        self._tokens[kind] = token

        def returned(value) -> None:
            if self._tokens.get(kind) == token and self.data is not None:
                done(value)

        def errored(error: Exception) -> None:
            show_error(f"napari-colorquant explorer: {error}")
            self.status.setText(str(error))

        worker = create_worker(compute, _start_thread=False,
                               _connect={"returned": returned, "errored": errored})  # fmt: skip
        worker.finished.connect(lambda: self._finished(worker))
        self._running[worker] = kind
        self.status.setText(message)
        self.busy_bar.show()
        worker.start()

    def _finished(self, worker) -> None:
        self._running.pop(worker, None)
        if not self._running:
            self.busy_bar.hide()
