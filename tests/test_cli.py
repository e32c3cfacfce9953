"""The command line: outputs, model reuse, errors with non-zero exit and no partial output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant import ClusterModel, quantize
from napari_colorquant.cli import main
from napari_colorquant.files import read_image


def test_sample_run_writes_labels_indexed_png_and_model(tmp_path, capsys):
    assert main(["--sample", "china", "-k", "8", "-o", str(tmp_path)]) == 0
    assert "china: kmeans K=8 rgb" in capsys.readouterr().out
    labels = read_image(tmp_path / "china_labels.tif")
    raw = (tmp_path / "china_quantized.png").read_bytes()
    assert raw[12:16] == b"IHDR" and raw[24] == 4 and raw[25] == 3  # 4-bit indexed colour for 8 colours
    png = Image.open(tmp_path / "china_quantized.png")
    assert png.mode == "P"
    assert labels.shape == (427, 640) and set(np.unique(labels)) == set(range(1, 9))
    index = np.asarray(png)
    np.testing.assert_array_equal(index, labels - 1)
    model = ClusterModel.from_json((tmp_path / "china_model.json").read_text())
    palette = np.array(png.getpalette()[: 8 * 3]).reshape(8, 3)  # the PLTE chunk: one entry per label
    np.testing.assert_array_equal(palette, np.clip(np.rint(model.palette), 0, 255))
    from sklearn.datasets import load_sample_image

    expected = quantize(load_sample_image("china.jpg"), 8)
    np.testing.assert_array_equal(labels, expected.labels)
    np.testing.assert_allclose(model.means, expected.model.means)
    # 8 colours: a 4-bit (or smaller) indexed PNG is much smaller than the raw RGB bytes.
    assert (tmp_path / "china_quantized.png").stat().st_size < 427 * 640 * 3 / 6


def test_indexed_png_uses_smallest_bit_depth(tmp_path):
    for k, bits in ((2, 1), (4, 2), (16, 4), (17, 8)):
        out = tmp_path / str(k)
        assert main(["--sample", "flower", "-k", str(k), "-o", str(out), "-q"]) == 0
        raw = (out / "flower_quantized.png").read_bytes()
        assert raw[24] == bits  # IHDR bit depth byte
        assert raw[25] == 3  # colour type 3: indexed


def test_apply_reuses_the_palette(tmp_path):
    assert main(["--sample", "china", "-k", "5", "-o", str(tmp_path / "a"), "-q"]) == 0
    assert (
        main(
            ["--sample", "flower", "--apply", str(tmp_path / "a" / "china_model.json"), "-o", str(tmp_path / "b"), "-q"]
        )
        == 0
    )
    a = json.loads((tmp_path / "a" / "china_model.json").read_text())
    b = json.loads((tmp_path / "b" / "flower_model.json").read_text())
    assert a["means"] == b["means"] and a["palette"] == b["palette"]


def test_multichannel_stack_and_em(tmp_path):
    assert (
        main(["--sample", "kidney", "--channel-axis", "1", "-k", "3", "--method", "em", "-o", str(tmp_path), "-q"]) == 0
    )
    labels = read_image(tmp_path / "kidney_labels.ome.tif")
    quantized = read_image(tmp_path / "kidney_quantized.ome.tif")
    assert labels.shape == (8, 128, 128) and quantized.shape == (8, 3, 128, 128) and quantized.dtype == np.uint16


def test_errors_exit_non_zero_and_leave_nothing(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    out = tmp_path / "out"
    assert main([str(broken), str(text), str(tmp_path / "missing.tif"), "-k", "3", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.png: cannot read image" in err
    assert "unsupported file type .txt" in err
    assert "missing.tif: no such file" in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--color-space", "rgb"], "gray.png: error: --color-space 'rgb' needs an RGB image"),
        (["--channel-axis", "5"], "gray.png: error: --channel-axis 5 is out of range"),
        (["--fixed-color", "1,2,3", "--fixed-color", "4,5,6"], "gray.png: error: --fixed-color: the image is gray"),
        (["-k", "70"], "gray.png: error: -k/--clusters 70 is larger than the number of distinct gray values"),
        (["--fixed-color", "300"], "gray.png: error: --fixed-color must be whole numbers in 0..255 for a uint8"),
        (
            ["--engine", "opencv", "--method", "em", "--attempts", "2"],
            "gray.png: error: --attempts 2 is not available with --engine 'opencv' EM (cv2.ml.EM fits once)",
        ),
    ],
)
def test_errors_about_one_file_name_the_command_line_option(tmp_path, capsys, options, message):
    """An option that does not fit one input is named as the user typed it (--color-space), not color_space."""
    image = tmp_path / "gray.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(image)
    assert main([str(image), "-k", "3", *options, "-o", str(tmp_path / "out")]) == 1
    assert message in capsys.readouterr().err


def test_apply_errors_name_the_command_line_options(tmp_path, capsys):
    # "--apply" of an RGB model to a gray file said "color_space 'rgb' needs …, or pass channel_axis".
    photo, gray = tmp_path / "photo.png", tmp_path / "gray.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(photo)
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(gray)
    assert main([str(photo), "-k", "2", "-o", str(tmp_path / "fit"), "-q"]) == 0
    assert main([str(gray), "--apply", str(tmp_path / "fit" / "photo_model.json"), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "fitted on a rgb image with 3 channel(s); the image of shape (8, 8) is not one" in err
    assert "fit a new model on this one" in err
    # --apply ignores --color-space (the model's is fixed): the message must not send the user there.
    assert "--color-space" not in err and "use 'gray'" not in err
    assert "color_space" not in err and "channel_axis" not in err


def test_apply_to_a_stack_without_its_channel_axis_says_which_axis_to_name(tmp_path, capsys):
    stack = np.random.default_rng(0).integers(0, 4096, (4, 3, 16, 16), dtype=np.uint16)
    fitted, plain = tmp_path / "fitted.tif", tmp_path / "plain.tif"
    tifffile.imwrite(fitted, stack)
    tifffile.imwrite(plain, stack)
    assert main([str(fitted), "--channel-axis", "1", "-k", "2", "-o", str(tmp_path / "fit"), "-q"]) == 0
    model = str(tmp_path / "fit" / "fitted_model.json")
    assert main([str(plain), "--apply", model, "-o", str(tmp_path / "o")]) == 1
    assert "if axis 1 holds its channels, pass --channel-axis 1" in capsys.readouterr().err
    assert main([str(plain), "--apply", model, "--channel-axis", "1", "-o", str(tmp_path / "o"), "-q"]) == 0


def test_too_many_clusters_leaves_no_partial_output(tmp_path, capsys):
    image = tmp_path / "two.png"
    Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).save(image)
    assert main([str(image), "-k", "3", "-o", str(tmp_path / "out")]) == 1
    assert "larger than the number of distinct" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "not valid JSON"), ('{"method": "kmeans"}', "missing the field 'color_space'"), ("[]", "JSON object")],
)
def test_hostile_model_file_is_rejected(tmp_path, capsys, content, message):
    model = tmp_path / "model.json"
    model.write_text(content)
    assert main(["--sample", "china", "--apply", str(model), "-o", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_python_dash_m_and_no_input(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "napari_colorquant", "-o", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "give input files or --sample" in done.stderr


def test_zarr_input_is_processed_lazily_and_written_as_zarr(tmp_path, kidney_zcyx):
    import dask.array as da

    store = tmp_path / "kidney.zarr"
    da.from_array(np.asarray(kidney_zcyx), chunks=(1, 3, 32, 32)).to_zarr(str(store))
    out = tmp_path / "out"
    assert main([str(store), "--channel-axis", "1", "-k", "3", "-o", str(out), "-q"]) == 0
    labels = da.from_zarr(str(out / "kidney_labels.zarr")).compute()
    quantized = da.from_zarr(str(out / "kidney_quantized.zarr")).compute()
    expected = quantize(np.asarray(kidney_zcyx), 3, channel_axis=1)
    np.testing.assert_array_equal(labels, expected.labels)
    np.testing.assert_array_equal(quantized, expected.quantized)
    model = ClusterModel.from_json((out / "kidney_model.json").read_text())
    np.testing.assert_array_equal(model.means, expected.model.means)
    # Reuse the palette on the same store, lazily.
    again = tmp_path / "again"
    assert (
        main([str(store), "--channel-axis", "1", "--apply", str(out / "kidney_model.json"), "-o", str(again), "-q"])
        == 0
    )
    np.testing.assert_array_equal(da.from_zarr(str(again / "kidney_labels.zarr")).compute(), expected.labels)


def test_scheduler_runs_on_a_dask_cluster(tmp_path, hela_u16, dask_cluster):
    import dask.array as da

    store = tmp_path / "hela.zarr"
    da.from_array(np.asarray(hela_u16), chunks=(64, 64)).to_zarr(str(store))
    address = dask_cluster.scheduler_address
    assert main([str(store), "-k", "4", "-o", str(tmp_path / "out"), "--scheduler", address, "-q"]) == 0
    labels = da.from_zarr(str(tmp_path / "out" / "hela_labels.zarr")).compute()
    np.testing.assert_array_equal(labels, quantize(np.asarray(hela_u16), 4).labels)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("napari_colorquant.cli.SCHEDULER_TIMEOUT", "0.5s")  # nothing listens on port 9
    assert main(["--sample", "plate", "-o", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the dask scheduler at tcp://127.0.0.1:9" in err
    # and what to do: start one there, or run on this machine without the option
    assert "start one with `dask scheduler`" in err and "leave out --scheduler" in err


def test_lazy_tiff_and_bad_zarr(tmp_path, capsys, hela_u16):
    import tifffile

    tifffile.imwrite(tmp_path / "hela.tif", np.asarray(hela_u16))
    assert main([str(tmp_path / "hela.tif"), "--lazy", "-k", "2", "-o", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "out" / "hela_labels.zarr").is_dir()
    (tmp_path / "empty.zarr").mkdir()
    assert main([str(tmp_path / "empty.zarr"), "-k", "2", "-o", str(tmp_path / "out2")]) == 1
    assert "empty.zarr: cannot open lazily" in capsys.readouterr().err
    assert list((tmp_path / "out2").iterdir()) == []


def test_ome_tiff_input(tmp_path, kidney_zcyx):
    import tifffile

    path = tmp_path / "stack.ome.tif"
    tifffile.imwrite(path, np.asarray(kidney_zcyx), ome=True, metadata={"axes": "ZCYX"})
    assert main([str(path), "--channel-axis", "1", "-k", "3", "-o", str(tmp_path / "out"), "-q"]) == 0
    labels = read_image(tmp_path / "out" / "stack_labels.ome.tif")
    np.testing.assert_array_equal(labels, quantize(np.asarray(kidney_zcyx), 3, channel_axis=1).labels)


def test_16_bit_rgb_quantized_tiff_is_one_rgb_image(tmp_path):
    """A uint16 RGB input's quantized TIFF is one RGB page, not Y pages of X x 3 gray pixels.

    Only tifffile could put the old file back together (from its shaped description); Fiji and other
    readers saw a stack of 512 images 3 pixels wide.
    """
    import tifffile

    rng = np.random.default_rng(0)
    image = (rng.integers(0, 4, (16, 12, 1)) * np.array([[[9000, 30000, 60000]]])).astype(np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", image, photometric="rgb")
    assert main([str(tmp_path / "rgb16.tif"), "-k", "3", "-q", "-o", str(tmp_path / "out")]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "rgb16_quantized.tif") as tif:
        assert len(tif.pages) == 1 and tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB
        np.testing.assert_array_equal(tif.asarray(), quantize(image, 3).quantized)


def test_bilevel_png_is_read_as_gray(tmp_path):
    """A 1-bit PNG (scanned text, a mask) is a gray image of 0 and 255, not an RGB photo."""
    bits = np.zeros((6, 8), bool)
    bits[2:4, 3:6] = True
    Image.fromarray(bits).save(tmp_path / "bw.png")
    image = read_image(tmp_path / "bw.png")
    assert image.shape == (6, 8) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, bits * 255)


def test_a_long_fit_says_it_is_working_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    """-k auto fits every K: on a terminal a one-line note (erased at the end) says so; never in a pipe or file."""
    from napari_colorquant import cli

    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(image)
    argv = [str(image), "-k", "auto", "--k-range", "2,4", "-q"]
    assert main([*argv, "-o", str(tmp_path / "piped")]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: nothing
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    monkeypatch.setattr(cli._Ticker, "DELAY", 0.0)
    assert main([*argv[:-1], "-o", str(tmp_path / "terminal")]) == 0
    err = capsys.readouterr().err
    assert "photo.png: counting values… 0 s" in err and "photo.png: fitting every K of the range… 0 s, " in err
    assert err.endswith("\r") and err.rstrip("\r").endswith(" ")  # the note is erased at the end
    assert main([*argv, "-o", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().err == ""  # --quiet: nothing either
