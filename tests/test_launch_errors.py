"""The viewer launcher and the CLI fail in one line a user can act on; both know the same sample names."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from napari_colorquant._napari import launch
from napari_colorquant.cli import build_parser, main
from napari_colorquant.params import MAX_CLUSTERS
from napari_colorquant.samples import load_sample


def _choices(parser, dest):
    return next(action.choices for action in parser._actions if action.dest == dest)


def test_sample_names_are_the_same_in_cli_and_viewer():
    assert sorted(_choices(build_parser(), "sample")) == sorted(_choices(launch.build_parser(), "sample"))
    assert {"photo", "plate", "fluorescence", "china", "kidney", "flower"} <= set(_choices(build_parser(), "sample"))
    np.testing.assert_array_equal(load_sample("photo"), load_sample("china"))


def test_too_many_clusters_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as stop:
        launch.main(["--sample", "plate", "-k", str(MAX_CLUSTERS + 1)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    # one K limit: the parameter record's, as in the CLI and the widget
    assert err[-1] == (
        f"napari-colorquant-viewer: error: -k/--clusters must be between 1 and {MAX_CLUSTERS}, got {MAX_CLUSTERS + 1}"
    )
    assert not any("Traceback" in line for line in err)


class Opened(Exception):
    pass


def test_plate_opens_with_two_clusters(monkeypatch):
    def fake_open(sample, widget, n_clusters):
        raise Opened(sample, widget, n_clusters)

    monkeypatch.setattr(launch, "open_viewer", fake_open)
    monkeypatch.setenv("DISPLAY", ":99")
    with pytest.raises(Opened) as opened:
        launch.main(["--sample", "plate", "--widget", "em"])
    assert opened.value.args == ("plate", "em", 2)
    with pytest.raises(Opened) as opened:
        launch.main(["--sample", "photo"])
    assert opened.value.args == ("china", "kmeans", 8)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_no_display_is_said_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "napari_colorquant._napari.launch", "--sample", "plate"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "xvfb-run" in lines[0], done.stderr


def test_apply_says_fitting_options_are_ignored(tmp_path, capsys):
    assert main(["--sample", "plate", "-k", "2", "-o", str(tmp_path / "a"), "-q"]) == 0
    model = tmp_path / "a" / "plate_model.json"
    assert main(["--sample", "plate", "--apply", str(model), "-k", "5", "--method", "em", "-o", str(tmp_path / "b"),
                 "-q"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "--apply reuses the model's own parameters; ignoring -k, --method" in err
    main(["--sample", "plate", "--apply", str(model), "-o", str(tmp_path / "c"), "-q"])
    assert "ignoring" not in capsys.readouterr().err


def test_viewer_without_napari_is_said_in_one_line(monkeypatch, capsys):
    """The headless install (`pip install -e .`) also installs napari-colorquant-viewer: it printed a
    ModuleNotFoundError traceback for napari."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "napari" else find_spec(name, *a))
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(launch, "open_viewer", lambda *args: pytest.fail("no viewer without napari"))
    assert launch.main(["--sample", "photo"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "napari is not installed" in err[0] and 'pip install "napari-colorquant[all]"' in err[0]


def test_viewer_help_reads_as_text_not_markup(capsys):
    """--help began with the docstring's reStructuredText: "``napari-colorquant-viewer``: open napari …"."""
    with pytest.raises(SystemExit):
        launch.main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "Open napari with a sample image and the clustering widget docked." in out
