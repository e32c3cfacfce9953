"""What a CLI process pays beyond the fit and the write: the modules it loads, and when."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _cli_process(tmp_path, image: np.ndarray, *args: str) -> tuple[set[str], int]:
    """Modules loaded by one CLI process (its own command line, as the console script runs; the background
    imports waited for) and how many objects it froze out of the cyclic collector's reach."""
    Image.fromarray(image).save(tmp_path / "in.png")
    script = (
        "import sys, json, gc\n"
        "from napari_colorquant.cli import main\n"
        "sys.argv = ['napari-colorquant', *sys.argv[1:]]\n"
        "status = main()\n"
        "import threading\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name.startswith('napari-colorquant'):\n"
        "        thread.join()\n"
        "print(json.dumps([status, sorted(sys.modules), gc.get_freeze_count()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in.png"), "-k", "4", "-o", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    status, modules, frozen = json.loads(done.stdout.splitlines()[-1])
    assert status == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["in_labels.tif", "in_model.json", "in_quantized.png"]
    return set(modules), frozen


def test_cli_process_imports_what_the_run_needs_and_freezes_its_imports(tmp_path, china):
    # The run needs tifffile, which the package's import does not load: the CLI imports it in the background;
    # the imports' objects are kept out of the collector's walks. A small photo's run does without OpenCV
    # (~16 ms to import, more than its sort saves there): NumPy sorts the colours and looks up the palette.
    # Writing the PNG loads Pillow's PNG plugin only, not the four others a named format brings in.
    loaded, frozen = _cli_process(tmp_path, china[:200, :300])
    assert {"numpy", "PIL", "tifffile", "PIL.PngImagePlugin"} <= loaded
    assert not loaded & {"cv2", "PIL.JpegImagePlugin", "PIL.GifImagePlugin", "PIL.BmpImagePlugin"}
    # Refusing masked arrays must not import numpy.ma (~10 ms of every run) for an image that cannot be one.
    assert "numpy.ma" not in loaded
    assert frozen > 10_000


def test_cli_summary_computes_delta_e_without_scikit_image_or_scipy(tmp_path, china):
    # Without -q the summary line prints the mean CIEDE2000 ΔE. scikit-image's colour module would import SciPy's
    # linear algebra (~0.12-0.16 s of the process); the package's own conversion and formula compute it instead.
    loaded, _ = _cli_process(tmp_path, china[:40, :60])
    assert "napari_colorquant.quality" in loaded  # the summary's ΔE was computed (the module loads on first use)
    assert not {name.split(".")[0] for name in loaded} & {"scipy", "skimage"}


def test_cli_process_with_several_inputs_imports_opencv_in_the_background(tmp_path, china):
    # Its faster sort and palette lookup pay for its import from the second photo on.
    for name in ("a.png", "b.png"):
        Image.fromarray(china[:60, :80]).save(tmp_path / name)
    script = (
        "import sys, json, threading\n"
        "from napari_colorquant.cli import main\n"
        "sys.argv = ['napari-colorquant', *sys.argv[1:]]\n"
        "status = main()\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name.startswith('napari-colorquant'):\n"
        "        thread.join()\n"
        "print(json.dumps([status, 'cv2' in sys.modules]))\n"
    )
    inputs = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    done = subprocess.run(
        [sys.executable, "-c", script, *inputs, "-k", "3", "-o", str(tmp_path / "out"), "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [0, True], done.stderr


@pytest.mark.parametrize("name", ["out.png", "OUT.PNG", "out.dat"])
def test_png_is_the_same_whether_the_format_is_named_or_read_from_the_name(tmp_path, china, name):
    from napari_colorquant.files import _save_png

    image = Image.fromarray(china[:60, :80]).quantize(7)
    _save_png(image, tmp_path / name, compress_level=1, bits=3)
    image.save(tmp_path / "named", format="PNG", compress_level=1, bits=3)
    assert (tmp_path / name).read_bytes() == (tmp_path / "named").read_bytes()


def test_import_and_help_do_not_load_opencv_or_the_writers():
    # ~20 ms of OpenCV and ~15 ms of tifffile that ``import napari_colorquant`` and ``--help`` never use.
    code = (
        "import sys, json, contextlib, io\n"
        "import napari_colorquant, napari_colorquant.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    napari_colorquant.cli.main(['--help'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert "numpy" in loaded and "napari_colorquant.cli" in loaded
    assert not loaded & {"cv2", "tifffile", "numpy.random"}


def _launcher_blas_threads(tmp_path, image: np.ndarray, env: dict[str, str]) -> tuple[int, bool]:
    """OpenBLAS's thread count in a process run through the console script's entry point (after a run), and
    whether the run loaded threadpoolctl (to limit BLAS around the fits)."""
    Image.fromarray(image).save(tmp_path / "in.png")
    script = (
        "import sys, json, gc\n"
        "from napari_colorquant_launcher import main\n"
        "sys.argv = ['napari-colorquant', *sys.argv[1:]]\n"
        "status = main()\n"
        "limiter = 'threadpoolctl' in sys.modules\n"
        "from threadpoolctl import threadpool_info\n"
        "blas = [i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas']\n"
        "print(json.dumps([status, blas, gc.isenabled(), limiter]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in.png"), "-k", "3", "-o", str(tmp_path / "out"), "-q"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    status, blas, collecting, limiter = json.loads(done.stdout.splitlines()[-1])
    assert status == 0, done.stderr
    assert collecting  # the collector is off only while the modules load
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["in_labels.tif", "in_model.json", "in_quantized.png"]
    if not blas:
        pytest.skip("numpy is not linked to OpenBLAS here")
    return blas[0], limiter


def test_console_script_loads_openblas_with_one_thread(tmp_path, china):
    # Set before numpy loads: OpenBLAS's spinning threads cost a third of a short run's CPU and no fit uses them.
    # BLAS then has one thread from the start: the fits need no limiter (threadpoolctl is not even imported).
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    assert _launcher_blas_threads(tmp_path, china[:100, :150], env) == (1, False)


def test_console_script_keeps_the_users_blas_thread_count(tmp_path, china):
    # Two threads kept as the user asked; the fits limit BLAS to one thread around their own work.
    env = {**{k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}, "OPENBLAS_NUM_THREADS": "2"}
    assert _launcher_blas_threads(tmp_path, china[:100, :150], env) == (2, True)


#: The variables that set BLAS's thread count (the launcher's and OpenMP's).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def test_console_script_entry_point_is_the_launcher():
    # pyproject.toml's script names a module outside the package (whose __init__ imports numpy) that is shipped.
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    module, function = project["project"]["scripts"]["napari-colorquant"].split(":")
    assert module in project["tool"]["setuptools"]["py-modules"]
    assert "." not in module and (root / "src" / f"{module}.py").is_file()
    code = f"import sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "numpy" not in loaded and "napari_colorquant" not in loaded
    assert callable(getattr(importlib.import_module(module), function))


_INTERRUPT_IMPORT = """
import importlib.abc, sys

class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "napari_colorquant.cli":
            raise KeyboardInterrupt  # Ctrl-C pressed while the CLI's modules load

sys.meta_path.insert(0, Interrupt())
sys.argv = ["napari-colorquant", "in.png", "-o", "out"]
import napari_colorquant_launcher
sys.exit(napari_colorquant_launcher.main())
"""


def test_ctrl_c_while_the_console_script_starts_is_one_line_not_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_IMPORT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 130
    assert done.stderr == "napari-colorquant: interrupted by SIGINT before starting; nothing was written\n"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_before_the_signal_handlers_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    from napari_colorquant import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_prepare_process", interrupted)
    monkeypatch.setattr(sys, "argv", ["napari-colorquant", str(tmp_path / "in.png"), "-o", str(tmp_path / "out")])
    assert cli.main() == 130
    assert capsys.readouterr().err == "napari-colorquant: interrupted by SIGINT before starting; nothing was written\n"
    assert list(tmp_path.iterdir()) == []
