"""The command line never loses a user's file: output names, collisions, overwriting, odd output folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_colorquant import outputs
from napari_colorquant.cli import main
from napari_colorquant.files import read_image
from napari_colorquant.outputs import output_stem


def _tiny_png(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(path)
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("img.001.png", "img.001"),
        ("img.002.jpg", "img.002"),
        (".hidden.png", ".hidden"),
        ("cells.ome.tif", "cells"),
        ("cells.OME.TIFF", "cells"),
        ("volume.ome.zarr", "volume"),
        ("plain.tif", "plain"),
        ("notes", "notes"),
        (".png", ".png"),
    ],
)
def test_output_stem_is_the_whole_name_minus_the_image_suffix(name, stem):
    assert output_stem(name) == stem


def test_dotted_names_give_separate_outputs(tmp_path, capsys):
    a = _tiny_png(tmp_path / "img.001.png", 0)
    b = _tiny_png(tmp_path / "img.002.png", 1)
    hidden = _tiny_png(tmp_path / ".hidden.png", 2)
    out = tmp_path / "out"
    assert main([str(a), str(b), str(hidden), "-k", "2", "-o", str(out), "-q"]) == 0
    names = _listing(out)
    for stem in ("img.001", "img.002", ".hidden"):
        assert f"{stem}_labels.tif" in names and f"{stem}_model.json" in names
    assert "_labels.tif" not in names and "img_labels.tif" not in names


def test_colliding_inputs_are_refused_before_writing_anything(tmp_path, capsys):
    a = _tiny_png(tmp_path / "x" / "img.png", 0)
    b = _tiny_png(tmp_path / "y" / "img.png", 1)
    out = tmp_path / "out"
    assert main([str(a), str(b), "-k", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(a) in err and str(b) in err and "would both write img_*" in err
    assert not out.exists() or _listing(out) == []


def test_existing_output_is_not_overwritten_without_the_flag(tmp_path, capsys):
    image = _tiny_png(tmp_path / "img.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "img_model.json").write_text("my precious notes")
    assert main([str(image), "-k", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "img_model.json already exists" in err and "--overwrite" in err
    assert _listing(out) == ["img_model.json"]
    assert (out / "img_model.json").read_text() == "my precious notes"
    assert main([str(image), "-k", "2", "-o", str(out), "--overwrite", "-q"]) == 0
    assert (out / "img_model.json").read_text().startswith("{")
    assert {"img_labels.tif", "img_model.json"} <= set(_listing(out))


def test_an_input_is_never_overwritten_by_another_inputs_output(tmp_path, capsys):
    # img.jpg's output img_quantized.png is also the second input: --overwrite replaced the user's file with
    # img.jpg's colours, then "clustered" that (PSNR inf) instead of the picture the user gave.
    first, second = _tiny_png(tmp_path / "img.png", 0), _tiny_png(tmp_path / "img_quantized.png", 1)
    before = second.read_bytes()
    assert main([str(first), str(second), "-k", "2", "-o", str(tmp_path), "--overwrite", "-q"]) == 2
    err = capsys.readouterr().err
    assert "img_quantized.png is an output name of this run but also one of its inputs" in err
    assert second.read_bytes() == before and _listing(tmp_path) == ["img.png", "img_quantized.png"]


def test_the_applied_model_is_never_overwritten(tmp_path, capsys):
    image = _tiny_png(tmp_path / "img.png")
    assert main([str(image), "-k", "2", "-o", str(tmp_path / "fit"), "-q"]) == 0
    model = tmp_path / "img_model.json"
    model.write_bytes((tmp_path / "fit" / "img_model.json").read_bytes())
    before = model.read_bytes()
    assert main([str(image), "--apply", str(model), "-o", str(tmp_path), "--overwrite", "-q"]) == 2
    assert "img_model.json is an output name of this run but also one of its inputs" in capsys.readouterr().err
    assert model.read_bytes() == before


def test_a_folder_at_an_output_name_is_never_deleted(tmp_path, capsys):
    image = _tiny_png(tmp_path / "img.png")
    out = tmp_path / "out"
    precious = out / "img_labels.tif"
    precious.mkdir(parents=True)
    (precious / "data.txt").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        assert main([str(image), "-k", "2", "-o", str(out), *extra]) == 2
        assert "did not write" in capsys.readouterr().err
        assert (precious / "data.txt").read_text() == "keep me"
        assert _listing(out) == ["img_labels.tif"]


def test_overwrite_replaces_a_zarr_output_it_wrote(tmp_path, hela_u16):
    import tifffile

    tifffile.imwrite(tmp_path / "hela.tif", np.asarray(hela_u16)[:32, :32])
    out = tmp_path / "out"
    args = [str(tmp_path / "hela.tif"), "--lazy", "-k", "2", "-o", str(out), "-q"]
    assert main(args) == 0
    assert main(args) == 2
    assert main([*args, "--overwrite"]) == 0
    assert (out / "hela_labels.zarr").is_dir() and not [n for n in _listing(out) if n.startswith(".")]


@pytest.mark.parametrize("where", ["is_file", "under_file"])
def test_output_folder_that_is_or_lies_under_a_file(tmp_path, capsys, where):
    image = _tiny_png(tmp_path / "img.png")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = blocker if where == "is_file" else blocker / "sub"
    assert main([str(image), "-k", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output folder" in err and "file" in err and "Traceback" not in err
    assert blocker.read_text() == "a file"


def test_directory_as_input_is_named_as_a_folder(tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    assert main([str(folder), "-k", "2", "-o", str(tmp_path / "out")]) == 1
    assert "is a folder, not an image file" in capsys.readouterr().err


def test_stale_staging_of_a_dead_process_is_removed_and_live_ones_kept(tmp_path):
    image = _tiny_png(tmp_path / "img.png")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = out / f".colorquant-{dead_pid}-abc123"
    (stale / "1").mkdir(parents=True)
    (stale / "1" / "img_labels.tif").write_bytes(b"partial")
    alive = out / f".colorquant-{os.getppid()}-live"  # a process that exists: another run, keep it
    alive.mkdir()
    stranger = out / ".colorquant-notes"  # not a staging name of ours
    stranger.mkdir()
    elsewhere = out / f".colorquant-{dead_pid}-other-machine.example-xyz789"  # another machine's run, on a share
    elsewhere.mkdir()
    here = out / f".colorquant-{dead_pid}-{outputs._host()}-def456"
    here.mkdir()
    assert main([str(image), "-k", "2", "-o", str(out), "-q"]) == 0
    assert not stale.exists() and not here.exists()
    assert alive.is_dir() and stranger.is_dir() and elsewhere.is_dir()


def test_missing_dask_names_the_extra_to_install(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "img.tif", np.zeros((8, 8), np.uint8))
    (tmp_path / "store.zarr").mkdir()
    script = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
        "from napari_colorquant.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for extra in (["--lazy", str(tmp_path / "img.tif")], [str(tmp_path / "store.zarr")]):
        done = subprocess.run(
            [sys.executable, "-c", script, *extra, "-k", "2", "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert done.returncode == 1, done.stderr
        assert 'pip install "napari-colorquant[lazy]"' in done.stderr and "dask" in done.stderr
        assert "Traceback" not in done.stderr


def test_outputs_read_back(tmp_path):
    image = _tiny_png(tmp_path / "a.b.png")
    assert main([str(image), "-k", "2", "-o", str(tmp_path / "out"), "-q"]) == 0
    labels = read_image(tmp_path / "out" / "a.b_labels.tif")
    assert labels.shape == (12, 10) and set(np.unique(labels)) <= {1, 2}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_zarr_round_trips_every_chunk_including_fill_value_ones(tmp_path, dtype):
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    from napari_colorquant.files import write_zarr

    labels = np.zeros((4, 32, 48), dtype)
    labels[2:, :, 20:] = np.random.default_rng(0).integers(1, np.iinfo(dtype).max, (2, 32, 28), endpoint=True)
    write_zarr(tmp_path / "labels.zarr", da.from_array(labels, chunks=(2, 16, 24)))
    stored = zarr.open_array(str(tmp_path / "labels.zarr"), mode="r")
    np.testing.assert_array_equal(stored[...], labels)
    assert stored.dtype == dtype and stored.chunks == (2, 16, 24)
    assert stored.nchunks_initialized == 8  # the all-zero chunks are written too, not left to the fill value


@pytest.mark.parametrize("blank", ["output", "input", "apply"])
def test_an_empty_path_is_refused_not_read_as_the_current_folder(tmp_path, monkeypatch, capsys, blank):
    # `-o "$OUT"` with OUT unset wrote every output into the current folder.
    image = _tiny_png(tmp_path / "img.png")
    monkeypatch.chdir(tmp_path)
    argv = {"output": [str(image), "-o", ""], "input": ["", "-o", "out"], "apply": [str(image), "-o", "out"]}[blank]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--apply", ""] if blank == "apply" else argv)
    assert stop.value.code == 2
    assert "an empty path; give a file or folder name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]
