"""The README's main-job command: napari opens with a sample and the widget docked, and runs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image


def test_viewer_launcher_runs_and_saves_a_screenshot(tmp_path):
    shot = tmp_path / "launch.png"
    done = subprocess.run(
        [sys.executable, "-m", "napari_colorquant._napari.launch", "--sample", "plate", "--widget", "em", "-k", "2",
         "--run", "--screenshot", str(shot)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"saved {shot}" in done.stdout
    image = np.asarray(Image.open(shot))
    assert image.shape[0] > 400 and image[..., :3].std() > 20
