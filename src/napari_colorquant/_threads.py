"""A shared thread pool for chunked NumPy/OpenCV work (both release the GIL in their loops).

BLAS is limited to one thread while the pool runs. Each chunk writes only its
own slice of a preallocated output, so results are identical whatever the
number of threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

_POOL: ThreadPoolExecutor | None = None
_CONTROLLER: ThreadpoolController | None = None
#: Set by :func:`blas_loaded_single_threaded`: NumPy's BLAS was loaded with one thread.
_BLAS_LOADED_SINGLE = False


def blas_loaded_single_threaded() -> None:
    """Say that this process loaded NumPy's BLAS with one thread, so :func:`single_threaded_blas` has nothing to do.

    The console script's launcher calls it when it set ``OPENBLAS_NUM_THREADS=1`` and ``MKL_NUM_THREADS=1``
    before NumPy loaded: a CLI process then never imports threadpoolctl nor scans its loaded libraries
    (~5 ms CPU of a 0.27 MP photo's run). Results are the same either way (one BLAS thread or several).
    """
    global _BLAS_LOADED_SINGLE
    _BLAS_LOADED_SINGLE = True


def single_threaded_blas() -> AbstractContextManager:
    """Context in which BLAS uses one thread.

    The matrices here are small (distinct colours x clusters); OpenBLAS threads
    add little to them and keep spinning afterwards, stealing the cores from
    the chunked work. The controller is built once: finding the libraries is
    the slow part. A BLAS library loaded later (scipy.linalg's own OpenBLAS,
    say) is therefore not limited; the work run on the pool calls numpy's
    BLAS only, which is loaded before any call here.

    Returns
    -------
    contextlib.AbstractContextManager
        threadpoolctl's limiter; BLAS gets its thread count back on exit. A no-op context after
        :func:`blas_loaded_single_threaded`.
    """
    global _CONTROLLER
    if _BLAS_LOADED_SINGLE:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def n_threads() -> int:
    """Threads used for chunked work: ``COLORQUANT_THREADS``, else the CPUs this process may run on.

    Returns
    -------
    int
        At least 1.
    """
    if os.environ.get("COLORQUANT_THREADS", "").isdigit():
        return max(1, int(os.environ["COLORQUANT_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=n_threads(), thread_name_prefix="colorquant")
    return _POOL


def run_all(tasks: Iterable[Callable[[], object]]) -> list:
    """Run independent tasks on the pool; results in task order.

    Parameters
    ----------
    tasks : iterable of callables
        Called with no arguments; they must not depend on each other.

    Returns
    -------
    list
        Their results, in task order.
    """
    tasks = list(tasks)
    if len(tasks) <= 1 or n_threads() == 1:
        return [task() for task in tasks]
    with single_threaded_blas():
        # The calling thread runs the first task itself: one thread fewer to wake, which at
        # small sizes (a 0.27 MP photo's Lloyd pass) is a good part of the work's own time.
        others = [_pool().submit(task) for task in tasks[1:]]
        try:
            first = tasks[0]()
        finally:
            wait(others)  # none still writes into the caller's buffers once this returns or raises
        return [first, *(future.result() for future in others)]


def for_chunks(function: Callable[[int, int], None], n: int, chunk: int) -> None:
    """Call ``function(start, stop)`` over ``range(0, n)`` in chunks, in parallel.

    One task per thread, each running a contiguous run of chunks: handing every chunk to the
    pool separately cost more than the work itself for the ~100 small calls of a Lloyd fit.

    Parameters
    ----------
    function : callable
        ``function(start, stop)``, for disjoint ranges.
    n : int
        Length of the whole range.
    chunk : int
        Length of each range (the last may be shorter).
    """
    starts = range(0, n, chunk)
    if not starts:  # nothing to do (an empty chunk of a dask array)
        return
    groups = min(len(starts), n_threads())

    def run(part: range) -> None:
        for start in part:
            function(start, min(n, start + chunk))

    per_group = -(-len(starts) // max(groups, 1))
    run_all([lambda i=i: run(starts[i : i + per_group]) for i in range(0, len(starts), per_group)])
