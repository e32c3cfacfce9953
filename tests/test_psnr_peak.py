"""PSNR with scikit-image's peak: the default is what ``skimage.metrics.peak_signal_noise_ratio`` takes for the
dtype (not always the dtype's maximum), ``data_range`` changes it, and the report says which peak was used."""

import warnings

import dask.array as da
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from napari_colorquant import apply_model, quantize
from napari_colorquant.cli import main
from napari_colorquant.report import report_text
from napari_colorquant.samples import load_sample


def _skimage_psnr(image, quantized, **options):
    with warnings.catch_warnings():  # scikit-image warns about some dtype pairs
        warnings.simplefilter("ignore")
        return peak_signal_noise_ratio(np.asarray(image), np.asarray(quantized), **options)


def _images():
    photo = load_sample("china")[::4, ::4]
    rng = np.random.default_rng(7)
    twelve_bit = load_sample("kidney")[:2]  # Z, C, Y, X: 12-bit fluorescence (0..4095) stored as uint16
    unit = photo.astype(np.float32) / 255
    return {
        "uint8 photo": (photo, {}, 255, "the uint8 maximum"),
        "12-bit uint16 stack": (twelve_bit, {"channel_axis": 1}, 65535, "the uint16 maximum"),
        "float in 0..1": (unit, {}, 1, "float data in 0..1"),
        "float in -1..1": (unit * 2 - 1, {}, 2, "float data in -1..1"),
        "int8 with negatives": ((photo.astype(np.int16) - 128).astype(np.int8), {}, 255, "the int8 range"),
        "int16 without negatives": (photo.astype(np.int16) * 100, {}, 32767, "the int16 maximum"),
        "bool": (rng.random((40, 50)) > 0.5, {"n_clusters": 1}, 1, "bool: 0..1"),
    }


@pytest.mark.parametrize("name", list(_images()))
def test_default_peak_is_scikit_images_for_the_dtype_and_the_psnr_equals_its(name):
    image, options, peak, why = _images()[name]
    options = {"n_clusters": 4, **options}
    result = quantize(image, options.pop("n_clusters"), **options)
    assert result.psnr_peak == peak and result.psnr_peak_is.startswith(why)
    assert result.psnr == pytest.approx(_skimage_psnr(image, result.quantized), rel=1e-6)
    assert f"(peak {peak:g}: {why}" in report_text(result.summary())
    lazy = quantize(da.from_array(image, chunks=32), 4 if name != "bool" else 1, **options)
    assert lazy.psnr_peak == peak and lazy.psnr == pytest.approx(result.psnr, rel=1e-6)


def test_data_range_gives_scikit_images_psnr_with_that_range_and_is_kept_by_the_model():
    image, options, _, _ = _images()["12-bit uint16 stack"]
    result = quantize(image, 4, data_range=4095, **options)
    assert result.psnr == pytest.approx(_skimage_psnr(image, result.quantized, data_range=4095), rel=1e-9)
    assert (result.psnr_peak, result.psnr_peak_is) == (4095, "data_range")
    assert result.model.params["psnr_peak"] == 4095
    assert "PSNR: " in report_text(result.summary()) and "(peak 4095: data_range)" in report_text(result.summary())
    again = apply_model(result.model, image, **options)  # the fitted peak by default
    assert again.psnr == pytest.approx(result.psnr)
    other = apply_model(result.model, image, data_range=65535, **options)
    assert other.psnr == pytest.approx(_skimage_psnr(image, other.quantized), rel=1e-9)
    assert other.psnr_peak_is == "data_range"


def test_target_psnr_is_measured_with_the_same_peak():
    image, options, _, _ = _images()["12-bit uint16 stack"]
    assert image.max() == 4095
    dtype_peak = quantize(image, "auto", target_psnr=26, k_range=(2, 8), **options)
    twelve_bit = quantize(image, "auto", target_psnr=26, k_range=(2, 8), data_range=4095, **options)
    # 65535 as the peak flatters 12-bit data by 20 log10(16) = 24 dB: the target is reached at K = 2 already
    assert dtype_peak.model.n_clusters == 2
    chosen = twelve_bit.model.n_clusters
    assert chosen > 2 and twelve_bit.k_curve.target_met
    assert _skimage_psnr(image, twelve_bit.quantized, data_range=4095) >= 26
    below = quantize(image, chosen - 1, data_range=4095, **options)
    assert _skimage_psnr(image, below.quantized, data_range=4095) < 26


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_data_range_that_is_not_positive_is_refused(bad, tmp_path, capsys):
    with pytest.raises(ValueError, match="data_range must be a"):
        quantize(load_sample("china")[::8, ::8], 2, data_range=bad)
    model = quantize(load_sample("china")[::8, ::8], 2).model
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        apply_model(model, load_sample("china")[::8, ::8], data_range=bad)
    assert main(["--sample", "plate", "-o", str(tmp_path / "out"), "--data-range", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("napari-colorquant: error: --data-range must be a")


@pytest.mark.parametrize("bad", [0, -2, float("nan"), float("inf"), "4095", True])
def test_quantize_and_apply_model_refuse_a_data_range_alike(bad):
    """One check for both entry points: the same exception and message for every bad peak."""
    image = load_sample("china")[::8, ::8]
    with pytest.raises((TypeError, ValueError)) as fitted:
        quantize(image, 2, data_range=bad)
    with pytest.raises(fitted.type) as applied:
        apply_model(quantize(image, 2).model, image, data_range=bad)
    assert str(applied.value) == str(fitted.value)


def test_cli_reports_the_peak_and_applies_data_range_with_a_fitted_model(tmp_path, capsys):
    assert main(["--sample", "fluorescence", "-k", "3", "-o", str(tmp_path / "fit")]) == 0
    assert "(peak 65535: the uint16 maximum)" in capsys.readouterr().out
    model = str(tmp_path / "fit" / "fluorescence_model.json")
    options = ["--sample", "fluorescence", "--apply", model, "--data-range", "4095", "-o", str(tmp_path / "applied")]
    assert main(options) == 0
    captured = capsys.readouterr()
    assert "(peak 4095: data_range)" in captured.out and "ignoring" not in captured.err
