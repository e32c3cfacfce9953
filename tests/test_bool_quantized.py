"""The quantized image of a bool image is bool (the input's dtype, as for every other dtype), not the uint8 0 / 1 it
is read as: in Python (NumPy, dask, every path that makes colours), in the command line's outputs, and in the
napari writers, which store it as a 1-bit PNG / TIFF that reads back as bool."""

import dask.array as da
import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant import apply_model, quantize
from napari_colorquant.cli import main
from napari_colorquant.files import write_png
from napari_colorquant.lazy import quantize_multiscale

RNG = np.random.default_rng(11)
MASK = RNG.random((24, 30)) > 0.4


def _expected(result, image=MASK):
    """Each labelled pixel its cluster's colour, rounded into 0 / 1; as bool."""
    palette = np.rint(np.clip(result.model.palette[:, 0], 0, 1)).astype(bool)
    return palette[np.asarray(result.labels) - 1]


RUNS = {
    "numpy": lambda: quantize(MASK, 2),
    "list": lambda: quantize(MASK.tolist(), 2),
    "dask": lambda: quantize(da.from_array(MASK, chunks=12), 2),
    "em": lambda: quantize(MASK, 2, method="em"),
    "opencv": lambda: quantize(MASK, 2, engine="opencv"),
    "dither": lambda: quantize(MASK, 2, dither=True),
    "smoothing": lambda: quantize(MASK, 2, smoothing=0.5),
    "dask smoothing": lambda: quantize(da.from_array(MASK, chunks=12), 2, smoothing=0.5),
    "apply": lambda: apply_model(quantize(MASK, 2).model, MASK),
    "apply dask": lambda: apply_model(quantize(MASK, 2).model, da.from_array(MASK, chunks=12)),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_quantized_bool_image_is_bool(name):
    result = RUNS[name]()
    assert result.quantized.dtype == bool
    quantized = np.asarray(result.quantized)  # a dask result computes to bool too
    assert quantized.dtype == bool and quantized.shape == MASK.shape
    if name != "dither":
        np.testing.assert_array_equal(quantized, _expected(result))


def test_multiscale_and_channel_bool_images_give_bool_colours():
    pyramid = quantize_multiscale([MASK, MASK[::2, ::2]], 2)
    assert [np.asarray(level).dtype for level in pyramid.quantized] == [bool, bool]
    assert all(level.dtype == bool for level in pyramid.quantized)
    stack = quantize(np.stack([MASK, ~MASK]), 2, channel_axis=0)
    assert stack.quantized.dtype == bool and stack.quantized.shape == (2, *MASK.shape)


def test_bool_png_reads_back_as_bool_and_a_bool_stack_is_refused_with_what_to_do(tmp_path):
    write_png(tmp_path / "mask.png", MASK)
    with Image.open(tmp_path / "mask.png") as png:
        assert png.mode == "1"
        np.testing.assert_array_equal(np.asarray(png), MASK)
    with pytest.raises(ValueError, match=r"shape \(2, 24, 30\): save as .tif"):
        write_png(tmp_path / "stack.png", np.stack([MASK, MASK]))
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]


@pytest.mark.parametrize("lazy", [False, True])
def test_cli_writes_the_quantized_image_of_a_bool_tiff_as_bool(tmp_path, lazy):
    tifffile.imwrite(tmp_path / "mask.tif", MASK)  # a bilevel (1-bit) TIFF: tifffile reads it as bool
    out = tmp_path / "out"
    assert main([str(tmp_path / "mask.tif"), "-k", "2", "-o", str(out), "-q", *(["--lazy"] if lazy else [])]) == 0
    expected = quantize(MASK, 2).quantized
    if lazy:
        import zarr

        stored = zarr.open_array(str(out / "mask_quantized.zarr"), mode="r")[...]
    else:
        with Image.open(out / "mask_quantized.png") as png:
            stored = np.asarray(png)
    assert stored.dtype == bool
    np.testing.assert_array_equal(stored, expected)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".zarr"])
def test_napari_writers_store_a_bool_quantized_layer_as_bool(tmp_path, suffix, monkeypatch):
    from napari_colorquant._napari import writer

    monkeypatch.setattr(writer, "_notify", pytest.fail)
    result = quantize(MASK, 2)
    meta = {"metadata": {"colorquant": {"model": result.model.to_dict()}}}
    (written,) = writer.write_quantized(str(tmp_path / f"q{suffix}"), result.quantized, meta)
    if suffix == ".png":
        stored = np.asarray(Image.open(written))
    elif suffix == ".tif":
        stored = tifffile.imread(written)
    else:
        import zarr

        stored = zarr.open_array(written + "/0", mode="r")[...]
    assert stored.dtype == bool
    np.testing.assert_array_equal(stored, result.quantized)
