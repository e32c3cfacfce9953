"""Fault injection for the command line: signals mid-write, a full disk, a read-only folder, concurrent runs.

After each fault: a non-zero exit status, one line on stderr (no traceback), no partial or hidden
files in the output folder, and the outputs of earlier runs byte for byte intact.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_colorquant import outputs
from napari_colorquant.cli import main

EARLIER = ("earlier_labels.tif", "earlier_quantized.png", "earlier_model.json")


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def folder_with_earlier_outputs(tmp_path):
    """An output folder holding a finished earlier run, and a new input to run into it."""
    out = tmp_path / "out"
    assert main([str(_png(tmp_path / "earlier.png", 1)), "-k", "3", "-o", str(out), "-q"]) == 0
    before = {name: (out / name).read_bytes() for name in EARLIER}
    return out, _png(tmp_path / "img.png", 2), before


def _assert_only_earlier(out: Path, before: dict[str, bytes]) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
    for name, content in before.items():
        assert (out / name).read_bytes() == content


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


# The writer of the model file writes half of it, then stalls: the signal arrives mid-write.
_STALLING_RUN = """
import sys, time
import napari_colorquant.cli as cli

def stalling_write_model(path, model):
    with open(path, "w") as handle:
        handle.write('{"half": ')
    time.sleep(120)

cli.write_model = stalling_write_model
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_write_cleans_up_and_exits_with_one_line(folder_with_earlier_outputs, signum, status):
    out, image, before = folder_with_earlier_outputs
    process = subprocess.Popen(
        [sys.executable, "-c", _STALLING_RUN, str(image), "-k", "3", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".colorquant-*/*/img_model.json")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.02)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status
    assert err.strip().count("\n") == 0 and f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err
    _assert_only_earlier(out, before)


def test_full_disk_while_writing(folder_with_earlier_outputs, monkeypatch, capsys):
    out, image, before = folder_with_earlier_outputs

    def full_disk(path, model):
        Path(path).write_text('{"partial": ')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr("napari_colorquant.cli.write_model", full_disk)
    assert main([str(image), "-k", "3", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and err.count("\n") == 1
    _assert_only_earlier(out, before)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_read_only_output_folder(folder_with_earlier_outputs, monkeypatch, capsys, code):
    # We run as root, which ignores permissions: the operating system's refusal is injected.
    out, image, before = folder_with_earlier_outputs

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(out))

    monkeypatch.setattr(outputs.tempfile, "mkdtemp", refuse)
    assert main([str(image), "-k", "3", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write in output folder {out}: {os.strerror(code)}" in err and err.count("\n") == 1
    _assert_only_earlier(out, before)


def test_read_only_when_moving_into_place(folder_with_earlier_outputs, monkeypatch, capsys):
    out, image, before = folder_with_earlier_outputs
    real_link = os.link

    def refuse(source, target, *args, **kwargs):
        if Path(target).parent == out:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))
        return real_link(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(os, "rename", refuse)
    assert main([str(image), "-k", "3", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Read-only file system" in err and err.count("\n") == 1
    monkeypatch.undo()
    _assert_only_earlier(out, before)


def test_output_folder_that_cannot_be_created(tmp_path, monkeypatch, capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["--sample", "plate", "-k", "2", "-o", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err
    assert "output folder" in err and "Permission denied" in err and err.count("\n") == 1


def test_concurrent_runs_into_one_folder(folder_with_earlier_outputs):
    out, image, before = folder_with_earlier_outputs
    command = [sys.executable, "-m", "napari_colorquant", str(image), "-k", "3", "-o", str(out), "-q"]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=_env()) for _ in range(2)]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    statuses = sorted(run.returncode for run in runs)
    assert statuses[0] == 0 and statuses[1] != 0, errors
    loser = errors[[run.returncode for run in runs].index(statuses[1])]
    assert "Traceback" not in loser and ("already exists" in loser or "appeared while this run" in loser)
    new = ("img_labels.tif", "img_quantized.png", "img_model.json")
    assert sorted(p.name for p in out.iterdir()) == sorted((*before, *new))
    for name, content in before.items():
        assert (out / name).read_bytes() == content
    reference = out.parent / "reference"
    assert main([str(image), "-k", "3", "-o", str(reference), "-q"]) == 0
    for name in new:
        assert (out / name).read_bytes() == (reference / name).read_bytes()
