"""An RGB(A) image or pyramid written to zarr keeps every level: OME-Zarr has no axis for a pixel's colour samples,
so they are written as its channel axis ``c`` (red, green, blue with OMERO rendering), and reading the store turns
them back into the pixel's colour. Read back with zarr and the NGFF JSON, by this package's readers and by the CLI."""

import dask.array as da
import numpy as np
import pytest
import tifffile

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.files import ZarrOptions, open_lazy, read_model, write_zarr, zarr_store_suffix
from napari_colorquant.ome import AxesInfo, napari_levels, read_axes, read_levels

zarr = pytest.importorskip("zarr")
if int(zarr.__version__.split(".")[0]) < 3:
    pytest.skip("OME-Zarr 0.5 outputs need zarr 3", allow_module_level=True)


def _rgb_levels(n_samples=3, dtype=np.uint8):
    """Three levels (2 x 2 means) of an RGB(A) image with three regions of colour."""
    rng = np.random.default_rng(11)
    regions = np.zeros((48, 64), int)
    regions[20:, :] = 1
    regions[30:, 30:] = 2
    colours = np.array([[200, 30, 30, 255], [20, 180, 40, 128], [30, 40, 220, 255]])[:, :n_samples]
    full = np.clip(colours[regions] + rng.integers(-10, 10, (48, 64, n_samples)), 0, 255).astype(dtype)
    levels = [full]
    for _ in range(2):
        y, x, c = levels[-1].shape
        block = levels[-1][: y // 2 * 2, : x // 2 * 2].reshape(y // 2, 2, x // 2, 2, c)
        levels.append(np.rint(block.mean(axis=(1, 3))).astype(dtype))
    return levels


def _ngff(store):
    attributes = dict(zarr.open_group(str(store), mode="r").attrs)
    return attributes["ome"], attributes


@pytest.mark.parametrize("n_samples", [3, 4])
def test_rgb_pyramid_is_written_as_an_ome_zarr_pyramid_of_every_level_with_colour_channels(tmp_path, n_samples):
    levels = _rgb_levels(n_samples)
    placed = napari_levels((0.5, 0.25, 1.0), (3.0, -1.0, 0.0), [level.shape for level in levels])
    axes = AxesInfo("YXS", levels[0].shape, "test", scale=(0.5, 0.25, 1.0), units=("µm", "µm", None), levels=placed)
    assert zarr_store_suffix(levels[0].shape, axes) == ".ome.zarr"  # it was a plain ".zarr" array of level 0
    chunked = [da.from_array(level, chunks=(16, 16, n_samples)) for level in levels]
    store = write_zarr(tmp_path / "rgb.ome.zarr", chunked[0], ZarrOptions(axes, levels=chunked[1:]))
    ngff, attributes = _ngff(store)
    (multiscale,) = ngff["multiscales"]
    assert [axis["name"] for axis in multiscale["axes"]] == ["c", "y", "x"]
    assert multiscale["axes"][0]["type"] == "channel" and multiscale["axes"][1]["unit"] == "micrometer"
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
    for index, (dataset, level) in enumerate(zip(multiscale["datasets"], placed, strict=True)):
        scale, translation = dataset["coordinateTransformations"]
        np.testing.assert_allclose(scale["scale"], [1.0, *level.scale[:2]])
        assert translation["translation"] == [0.0, 3.0, -1.0]
        stored = zarr.open_array(str(store / str(index)), mode="r")
        np.testing.assert_array_equal(stored[...], np.moveaxis(levels[index], -1, 0))
    channels = ngff["omero"]["channels"]
    assert [c["label"] for c in channels] == ["red", "green", "blue", "alpha"][:n_samples]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF", "FFFFFF"][:n_samples]
    assert all(c["window"] == {"min": 0.0, "max": 255.0, "start": 0.0, "end": 255.0} for c in channels)
    assert [c["active"] for c in channels] == [True, True, True, False][:n_samples]
    assert ngff["omero"]["rdefs"] == {"model": "color"}
    assert attributes["napari-colorquant"] == {"samples": "c"}
    # read back: the samples last again, every level, placed as written
    for mine, theirs in zip(read_levels(store), levels, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), theirs)
    info = read_axes(store)
    assert info.axes == "YXS" and info.shape == levels[0].shape and info.channel_names == ()
    assert info.scale == (0.5, 0.25, 1.0) and info.units == ("µm", "µm", None)
    assert [level.scale for level in info.levels] == [level.scale for level in placed]
    np.testing.assert_array_equal(np.asarray(open_lazy(store)), levels[0])


def test_rgb_volume_over_time_puts_the_colour_channel_where_ngff_orders_it(tmp_path):
    image = np.random.default_rng(1).integers(0, 65535, (2, 3, 8, 9, 3), dtype=np.uint16)
    axes = AxesInfo("TZYXS", image.shape, "test", scale=(60.0, 2.0, 0.5, 0.5, 1.0))
    store = write_zarr(tmp_path / "movie.ome.zarr", image, ZarrOptions(axes))
    ngff, _ = _ngff(store)
    assert [axis["name"] for axis in ngff["multiscales"][0]["axes"]] == ["t", "c", "z", "y", "x"]
    assert ngff["omero"]["channels"][0]["window"]["end"] == 65535.0
    np.testing.assert_array_equal(zarr.open_array(str(store / "0"), mode="r")[...], np.moveaxis(image, -1, 1))
    (level,) = read_levels(store)
    np.testing.assert_array_equal(np.asarray(level), image)
    assert read_axes(store).axes == "TZYXS" and read_axes(store).scale == (60.0, 2.0, 0.5, 0.5, 1.0)


def test_a_three_channel_image_that_is_not_rgb_stays_three_channels(tmp_path):
    """Only a store that says its channels are a pixel's samples is read as RGB."""
    image = np.random.default_rng(2).integers(0, 255, (3, 8, 9), dtype=np.uint8)
    store = write_zarr(tmp_path / "cyx.ome.zarr", image, ZarrOptions(AxesInfo("CYX", image.shape, "test")))
    assert read_axes(store).axes == "CYX" and read_levels(store)[0].shape == image.shape


def _write_rgb_ome_tiff_pyramid(path, levels):
    with tifffile.TiffWriter(path) as tif:
        tif.write(levels[0], subifds=len(levels) - 1, tile=(16, 16), photometric="rgb",
                  metadata={"axes": "YXS", "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.5})  # fmt: skip
        for level in levels[1:]:
            tif.write(level, subfiletype=1, tile=(16, 16), photometric="rgb")
    assert read_axes(path).axes == "YXS" and len(read_axes(path).levels) == len(levels)
    return path


def test_cli_writes_every_level_of_an_rgb_pyramid_and_reads_its_output_back_as_rgb(tmp_path):
    """An RGB OME-TIFF pyramid with --lazy: the quantized output kept only its finest level (a plain zarr array)."""
    levels = _rgb_levels()
    path = _write_rgb_ome_tiff_pyramid(tmp_path / "photo.ome.tif", levels)
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "photo_labels.ome.zarr", "photo_model.json", "photo_quantized.ome.zarr"
    ]  # fmt: skip
    model = read_model(out / "photo_model.json")
    store = out / "photo_quantized.ome.zarr"
    ngff, _ = _ngff(store)
    assert [d["path"] for d in ngff["multiscales"][0]["datasets"]] == ["0", "1", "2"]
    for index, level in enumerate(read_levels(store)):
        labels = zarr.open_array(str(out / "photo_labels.ome.zarr" / str(index)), mode="r")[...]
        np.testing.assert_array_equal(labels, model.predict(levels[index]))
        np.testing.assert_array_equal(np.asarray(level), np.rint(model.palette[labels - 1]).astype(np.uint8))
    # the output is an RGB image to the CLI too: clustered as colours, not as three channels
    again = tmp_path / "again"
    assert main([str(store), "-k", "3", "-o", str(again), "-q"]) == 0
    first = quantize(np.asarray(read_levels(store)[0]), 3)
    np.testing.assert_array_equal(zarr.open_array(str(again / "photo_quantized_labels.ome.zarr" / "0"))[...],
                                  first.labels)  # fmt: skip
