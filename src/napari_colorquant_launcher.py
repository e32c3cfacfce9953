"""Console-script entry of ``napari-colorquant``: settings of the process, made before its modules load.

OpenBLAS reads ``OPENBLAS_NUM_THREADS`` once, when NumPy loads it, and otherwise starts one thread per core
that spins for a while after loading: in a CLI process that is a sixth to a third of the CPU of a 0.27 MP
photo's run, taken from the main thread and the background imports while they load modules. The fits never
use BLAS threads (:func:`napari_colorquant._threads.single_threaded_blas` limits BLAS to one thread around
every fit; the chunked work runs on the package's own thread pool), so one BLAS thread changes no result
and no fit time. A variable the user has set is left as it is. When both are 1 as NumPy loads, the fits are
told so (:func:`napari_colorquant._threads.blas_loaded_single_threaded`) and skip that limiter, whose
threadpoolctl import and library scan cost ~5 ms.

The cyclic garbage collector is off while the CLI's modules load (they make ~100 000 objects and no garbage
worth a collection: ~80 young-generation passes over them cost ~3 % of the run's CPU); what they made is
then frozen out of its reach (:func:`gc.freeze`, as the CLI does after its own later imports) and the
collector is on again for the run.

This module lives outside the ``napari_colorquant`` package because importing anything in the package runs
its ``__init__``, which imports NumPy. ``python -m napari_colorquant`` imports the package first and so
keeps OpenBLAS's default.
"""

from __future__ import annotations

import gc
import os
import sys

#: What Ctrl-C during start-up prints (instead of a traceback of whichever import it interrupted).
INTERRUPTED_AT_START = "napari-colorquant: interrupted by SIGINT before starting; nothing was written"

#: Thread counts set for the CLI process unless the environment already names them.
THREAD_SETTINGS = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def main() -> int:
    """Run ``napari-colorquant`` with one BLAS thread, its modules loaded without collections (module docstring).

    Returns
    -------
    int
        The exit status of :func:`napari_colorquant.cli.main`.
    """
    for name, value in THREAD_SETTINGS.items():
        os.environ.setdefault(name, value)
    single = "numpy" not in sys.modules and all(os.environ[name] == "1" for name in THREAD_SETTINGS)
    gc.disable()
    try:
        from napari_colorquant._threads import blas_loaded_single_threaded
        from napari_colorquant.cli import main as run_cli
    except KeyboardInterrupt:  # Ctrl-C while the modules load: nothing has been written yet
        print(INTERRUPTED_AT_START, file=sys.stderr)
        return 130
    finally:
        gc.freeze()
        gc.enable()
    if single:
        blas_loaded_single_threaded()
    return run_cli()
