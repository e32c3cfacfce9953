"""What a CLI process pays beyond the fit and the write: the modules it loads, and when."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image


def _cli_process(tmp_path, image: np.ndarray, *args: str) -> tuple[set[str], int]:
    """Top-level modules loaded by one CLI process (its own command line, as the console script runs) and
    how many objects it froze out of the cyclic collector's reach."""
    Image.fromarray(image).save(tmp_path / "in.png")
    script = (
        "import sys, json, gc\n"
        "from napari_colorquant.cli import main\n"
        "sys.argv = ['napari-colorquant', *sys.argv[1:]]\n"
        "status = main()\n"
        "print(json.dumps([status, sorted({m.split('.')[0] for m in sys.modules}), gc.get_freeze_count()]))\n"
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
    # The run needs OpenCV (colour counting, palette lookup) and tifffile, which the package's import does not
    # load: the CLI imports them in the background; the imports' objects are kept out of the collector's walks.
    loaded, frozen = _cli_process(tmp_path, china[:200, :300])
    assert {"numpy", "PIL", "cv2", "tifffile"} <= loaded
    assert frozen > 10_000


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
