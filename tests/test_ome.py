"""OME-TIFF / OME-Zarr axes, channel names and colours, and the CLI clustering an OME channel axis by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.ome import decide_channel_axis, is_ome_path, ome_color, read_axes, read_levels

# ../shared/data beside the project's root (a worktree may sit deeper, so look up the parents)
SHARED = next(
    (p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()), None
)
NEURON = (SHARED or Path("absent")) / "micro_ndev_neuron_4ch_u16.ome.tif"
RED, GREEN = -16776961, 16711935  # OME Color: signed 32-bit RGBA


def write_ome_tiff(path, data, axes, names, colors=None):
    channel = {"Name": names} if colors is None else {"Name": names, "Color": colors}
    tifffile.imwrite(path, data, ome=True, metadata={"axes": axes, "Channel": channel, "PhysicalSizeX": 0.5})
    return path


def write_ome_zarr(path, data, axes, labels, colors):
    """A one-level NGFF store written with zarr itself (axes, scale, omero channels)."""
    import zarr

    group = zarr.open_group(str(path), mode="w")
    group.create_array("0", data=data, chunks=data.shape)
    types = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [{"name": a, "type": types[a]} for a in axes],
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * (len(axes) - 1) + [2]}]}
            ],
        }
    ]
    group.attrs["omero"] = {"channels": [{"label": n, "color": c} for n, c in zip(labels, colors, strict=True)]}
    return path


@pytest.fixture
def tcyx():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 4, (24, 24))
    data = np.stack([base * 300 + rng.integers(0, 30, (24, 24)), (3 - base) * 200, (base % 2) * 900], axis=0)
    return np.stack([data + t for t in range(4)]).astype(np.uint16)  # T=4, C=3


def test_ome_tiff_axes_names_colours(tmp_path, tcyx):
    path = write_ome_tiff(tmp_path / "cells.ome.tif", tcyx, "TCYX", ["DAPI", "GFP", "RFP"], [RED, GREEN, RED])
    info = read_axes(path)
    assert info.axes == "TCYX" and info.channel_axis == 1 and info.shape == tcyx.shape
    assert info.channel_names == ("DAPI", "GFP", "RFP")
    assert info.channel_colors[0] == (1.0, 0.0, 0.0, 1.0) and info.channel_colors[1] == (0.0, 1.0, 0.0, 1.0)
    assert info.scale[-1] == 0.5
    assert info.describe() == "3 channels [DAPI, GFP, RFP] (C axis from OME metadata) × 1 z × 4 t"
    assert is_ome_path(path) and not is_ome_path(tmp_path / "cells.tif")


def test_ome_zarr_axes_names_colours(tmp_path, tcyx):
    path = write_ome_zarr(
        tmp_path / "cells.ome.zarr", tcyx, "tcyx", ["DAPI", "GFP", "RFP"], ["0000FF", "00FF00", "FF00FF"]
    )
    info = read_axes(path)
    assert info.axes == "TCYX" and info.channel_axis == 1 and info.source == "OME-Zarr metadata"
    assert info.channel_names == ("DAPI", "GFP", "RFP")
    assert info.channel_colors[0] == (0.0, 0.0, 1.0, 1.0)
    assert info.scale[-1] == 2.0
    levels = read_levels(path)
    np.testing.assert_array_equal(np.asarray(levels[0]), tcyx)


def test_plain_tiff_has_no_axes(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((3, 8, 8), np.uint8))
    assert read_axes(tmp_path / "plain.tif") is None
    (tmp_path / "photo.png").write_bytes(b"not read")
    assert read_axes(tmp_path / "photo.png") is None


def test_colour_parsing():
    assert ome_color(-1) == (1.0, 1.0, 1.0, 1.0)
    assert ome_color("FF0000") == (1.0, 0.0, 0.0, 1.0)
    assert ome_color("nonsense") is None and ome_color(None) is None


def test_decision_rules(tcyx):
    info = read_axes_like(tcyx)
    assert decide_channel_axis(info, None, "auto", tcyx.shape)[0] == 1
    assert decide_channel_axis(info, 0, "auto", tcyx.shape) == (
        0,
        "4 channels (axis 0 from --channel-axis) × 1 z × 4 t",
    )
    assert decide_channel_axis(info, None, "gray", tcyx.shape)[0] is None
    assert decide_channel_axis(None, None, "auto", tcyx.shape) == (None, None)


def read_axes_like(data):
    from napari_colorquant.ome import AxesInfo

    return AxesInfo("TCYX", data.shape, "OME metadata")


def test_cli_clusters_ome_channels_by_default(tmp_path, tcyx, capsys):
    path = write_ome_tiff(tmp_path / "cells_3ch.ome.tif", tcyx, "TCYX", ["DAPI", "GFP", "RFP"])
    assert main([str(path), "-k", "4", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "3 channels [DAPI, GFP, RFP] (C axis from OME metadata) × 1 z × 4 t" in out
    assert "kmeans K=4 channels" in out
    labels = tifffile.imread(tmp_path / "out" / "cells_3ch_labels.ome.tif")
    assert labels.shape == (4, 24, 24)
    np.testing.assert_array_equal(labels, quantize(tcyx, 4, channel_axis=1).labels)


def test_cli_channel_axis_override_and_gray(tmp_path, tcyx, capsys):
    path = write_ome_tiff(tmp_path / "cells.ome.tif", tcyx, "TCYX", ["DAPI", "GFP", "RFP"])
    assert main([str(path), "-k", "3", "--channel-axis", "1", "-o", str(tmp_path / "a")]) == 0
    assert "3 channels (axis 1 from --channel-axis)" in capsys.readouterr().out
    single = write_ome_tiff(tmp_path / "one.ome.tif", tcyx[:, :1], "TCYX", ["DAPI"])
    assert main([str(single), "-k", "3", "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "gray (no channel axis" in out and "kmeans K=3 gray" in out


def test_cli_ome_zarr_channels(tmp_path, tcyx, capsys):
    path = write_ome_zarr(tmp_path / "cells.ome.zarr", tcyx, "tcyx", ["a", "b", "c"], ["FF0000", "00FF00", "0000FF"])
    assert main([str(path), "-k", "3", "-o", str(tmp_path / "out")]) == 0
    assert "(C axis from OME-Zarr metadata)" in capsys.readouterr().out


def test_cli_sample_with_known_axes(tmp_path, capsys):
    assert main(["--sample", "kidney", "-k", "3", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "3 channels (C axis from the sample's axes) × 8 z × 1 t" in out
    assert "kmeans K=3 channels" in out


@pytest.mark.skipif(not NEURON.is_file(), reason=f"{NEURON} (shared test data) is absent")
def test_real_neuron_ome_tiff(tmp_path, capsys):
    info = read_axes(NEURON)
    assert info.axes == "CYX" and info.channel_names == ("AF647", "AF568", "AF488", "DAPI")
    assert main([str(NEURON), "-k", "3", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 channels [AF647, AF568, AF488, DAPI] (C axis from OME metadata) × 1 z × 1 t" in out


def test_cli_outputs_keep_the_axes_pixel_size_and_channel_names(tmp_path, tcyx):
    """A TZCYX-style OME-TIFF in gives OME-TIFFs out: labels TYX, quantized TCYX, with their pixel size.

    Without axes the 4-D quantized stack read back as unnamed ``QQYX`` pages (Fiji: one long stack)
    and the pixel size was lost, so measurements on the labels were in pixels.
    """
    metadata = {"axes": "TCYX", "Channel": {"Name": ["DAPI", "GFP", "RFP"]}, "PhysicalSizeX": 0.25}
    metadata |= {"PhysicalSizeY": 0.25, "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm"}
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, tcyx, ome=True, metadata=metadata)
    assert main([str(path), "-k", "4", "-q", "-o", str(tmp_path / "out")]) == 0
    expected = quantize(tcyx, 4, channel_axis=1)

    labels = read_axes(tmp_path / "out" / "cells_labels.ome.tif")
    assert labels.axes == "TYX" and labels.scale == (1.0, 0.25, 0.25) and labels.units == (None, "µm", "µm")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "cells_labels.ome.tif"), expected.labels)
    quantized = read_axes(tmp_path / "out" / "cells_quantized.ome.tif")
    assert quantized.axes == "TCYX" and quantized.channel_names == ("DAPI", "GFP", "RFP")
    assert quantized.scale == (1.0, 1.0, 0.25, 0.25)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "cells_quantized.ome.tif"), expected.quantized)


def test_output_axes_drop_the_clustered_axis_or_give_up():
    from napari_colorquant.ome import AxesInfo, output_axes

    info = AxesInfo("ZCYX", (2, 3, 4, 5), "OME metadata", ("a", "b", "c"), (), (2.0, 1.0, 0.5, 0.5), ("µm",) * 4)
    labels = output_axes(info, (2, 4, 5), (2, 3, 4, 5), 1)
    assert labels.axes == "ZYX" and labels.scale == (2.0, 0.5, 0.5) and labels.channel_names == ()
    assert output_axes(info, (2, 3, 4, 5), (2, 3, 4, 5), 1) is info  # the quantized image: the input's axes
    assert output_axes(info, (2, 3, 4), (2, 3, 4, 5), 3) is None  # --channel-axis 3: no Y, X plane is left
    assert output_axes(info, (2, 4, 5), (9, 3, 4, 5), 1) is None  # info describes another shape
    assert output_axes(None, (2, 4, 5), (2, 3, 4, 5), 1) is None
    rgb = AxesInfo("YXS", (4, 5, 3), "OME metadata")
    assert output_axes(rgb, (4, 5), (4, 5, 3), None).axes == "YX"


def test_axes_a_tiff_plane_cannot_hold_are_left_out_not_an_error(tmp_path):
    """OME-TIFF planes end in Y, X: an array labelled YXC is written as a plain TIFF, values kept."""
    from napari_colorquant.files import write_image
    from napari_colorquant.ome import AxesInfo

    image = np.arange(90, dtype=np.uint16).reshape(5, 6, 3)
    write_image(tmp_path / "yxc.tif", image, AxesInfo("YXC", image.shape, "OME metadata", ("a", "b", "c")))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "yxc.tif"), image)


def test_apply_warns_when_the_files_channels_are_named_in_another_order(tmp_path, tcyx, capsys):
    """A model fitted on [DAPI, GFP, RFP] applied to a file of [GFP, DAPI, RFP] says so (features are positional)."""
    import json

    first = write_ome_tiff(tmp_path / "a.ome.tif", tcyx, "TCYX", ["DAPI", "GFP", "RFP"])
    assert main([str(first), "-k", "3", "-q", "-o", str(tmp_path / "fit")]) == 0
    model = tmp_path / "fit" / "a_model.json"
    assert json.loads(model.read_text())["params"]["channel_names"] == ["DAPI", "GFP", "RFP"]
    assert json.loads(model.read_text())["feature_names"] == ["DAPI", "GFP", "RFP"]  # not "channel 0", ...

    same = write_ome_tiff(tmp_path / "b.ome.tif", tcyx, "TCYX", ["DAPI", "GFP", "RFP"])
    swapped = write_ome_tiff(tmp_path / "c.ome.tif", tcyx[:, [1, 0, 2]], "TCYX", ["GFP", "DAPI", "RFP"])
    assert main([str(same), str(swapped), "--apply", str(model), "-q", "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "b.ome.tif: warning" not in err
    assert (
        "c.ome.tif: warning: the model was fitted on channels [DAPI, GFP, RFP], this file has [GFP, DAPI, RFP]" in err
    )
    assert "(the same channels in another order)" in err


def test_imagej_stack_pixel_size_is_read_and_kept_in_the_outputs(tmp_path, capsys):
    """An ImageJ Z stack in microns (the commonest microscopy TIFF): its voxel size reaches the outputs."""
    rng = np.random.default_rng(3)
    stack = (rng.integers(0, 3, (3, 16, 16)) * 1000 + 100).astype(np.uint16)
    path = tmp_path / "zstack.tif"
    tifffile.imwrite(
        path, stack, imagej=True, metadata={"axes": "ZYX", "unit": "um", "spacing": 2.5}, resolution=(4.0, 4.0)
    )
    info = read_axes(path)
    assert info.axes == "ZYX" and info.source == "ImageJ metadata"
    assert info.scale == (2.5, 0.25, 0.25) and info.units == ("µm", "µm", "µm")
    assert main([str(path), "-k", "3", "-o", str(tmp_path / "out")]) == 0
    assert "gray (no channel axis in ImageJ metadata, axes ZYX) × 3 z × 1 t" in capsys.readouterr().out
    labels = read_axes(tmp_path / "out" / "zstack_labels.ome.tif")
    assert labels.axes == "ZYX" and labels.scale == (2.5, 0.25, 0.25) and labels.units == ("µm",) * 3

    tifffile.imwrite(tmp_path / "nounit.tif", stack, imagej=True, metadata={"axes": "ZYX"}, resolution=(4.0, 4.0))
    plain = read_axes(tmp_path / "nounit.tif")  # without a unit ImageJ calibrates in pixels
    assert plain.scale == (1.0, 1.0, 1.0) and plain.units == (None, None, None)


def test_recorded_channel_names_name_the_features_only_when_they_fit():
    from napari_colorquant.model import ClusterModel

    model = quantize(np.random.default_rng(0).integers(0, 9, (3, 8, 8)).astype(np.uint16), 2, channel_axis=0).model
    assert model.feature_names == ("channel 0", "channel 1", "channel 2")
    named = ClusterModel.from_json(
        model.to_json().replace('"params": {', '"params": {"channel_names": ["a", "b", "c"], ')
    )
    assert named.feature_names == ("a", "b", "c")
    for bad in ('["a", "b"]', '["a", "b", 3]', '"abc"'):
        odd = ClusterModel.from_json(model.to_json().replace('"params": {', f'"params": {{"channel_names": {bad}, '))
        assert odd.feature_names == ("channel 0", "channel 1", "channel 2")


@pytest.fixture
def truncated_stack(tmp_path):
    """A 5-D OME-TIFF cut short (a copy that stopped half-way): tifffile logs it and reads one plane."""
    stack = np.arange(2 * 4 * 3 * 32 * 32, dtype=np.uint16).reshape(2, 4, 3, 32, 32)
    whole = tmp_path / "whole.ome.tif"
    tifffile.imwrite(whole, stack, ome=True, metadata={"axes": "TZCYX"})
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def test_a_truncated_tiff_is_refused_not_read_in_part(truncated_stack, tmp_path, capsys):
    # It opened as one 32 x 32 plane of the 2 x 4 x 3 stack, and was clustered and saved as if it were the file.
    from napari_colorquant._napari.reader import read_ome
    from napari_colorquant.files import read_image

    message = "cut.ome.tif: the TIFF file is truncated or damaged"
    with pytest.raises(ValueError, match=message):
        read_image(truncated_stack)
    with pytest.raises(ValueError, match=message):
        read_ome(str(truncated_stack))
    assert main([str(truncated_stack), "-k", "2", "-o", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []


def test_an_rgb_time_lapse_is_described_as_rgb_not_gray(tmp_path, capsys):
    # An ImageJ TYXS file was announced as "gray (no channel axis …)" and then clustered as rgb.
    photo = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, np.stack([photo, photo[::-1]]), imagej=True, metadata={"axes": "TYXS"})
    assert main([str(path), "-k", "2", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "RGB (samples axis S in ImageJ metadata, axes TYXS) × 1 z × 2 t" in out and "gray" not in out
    assert "kmeans K=2 rgb" in out
