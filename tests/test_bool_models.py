"""A model fitted on a bool image records bool (not the uint8 0 / 1 it reads it as) and, like any model, labels
only images of the dtype it was fitted on: a uint8 image of 0 / 255 is refused, not labelled as if it were 0 / 1."""

import dask.array as da
import numpy as np
import pytest

from napari_colorquant import ClusterModel, apply_model, quantize
from napari_colorquant.result import to_dtype

RNG = np.random.default_rng(5)
MASK = RNG.random((24, 30)) > 0.4


@pytest.mark.parametrize("image", [MASK, da.from_array(MASK, chunks=12), MASK.tolist()], ids=["numpy", "dask", "list"])
def test_a_bool_fit_records_bool_and_survives_json(image):
    model = quantize(image, 2).model
    assert model.dtype == "bool"
    assert ClusterModel.from_json(model.to_json()).dtype == "bool"


def test_a_bool_model_labels_bool_images_as_the_fit_did():
    result = quantize(MASK, 2)
    np.testing.assert_array_equal(apply_model(result.model, MASK).labels, result.labels)
    other = ~MASK
    np.testing.assert_array_equal(result.model.predict(other), np.where(other, result.labels.max(), 1))


def _mismatch_message(fitted, given):
    return rf"this model was fitted on {fitted} images; got {given} \(convert the image first"


@pytest.mark.parametrize("given", [np.uint8, np.uint16, np.float32])
def test_a_bool_model_refuses_other_dtypes_as_a_uint8_model_refuses_uint16(given):
    # the reference behaviour: a uint8 model on a uint16 image
    uint8_model = quantize(MASK.astype(np.uint8) * 255, 2).model
    with pytest.raises(ValueError, match=_mismatch_message("uint8", "uint16")):
        apply_model(uint8_model, MASK.astype(np.uint16))
    bool_model = quantize(MASK, 2).model
    image = MASK.astype(given) * (255 if given == np.uint8 else 1)
    for call in (apply_model, lambda model, data: model.predict(data)):
        with pytest.raises(ValueError, match=_mismatch_message("bool", np.dtype(given).name)):
            call(bool_model, image)
        with pytest.raises(ValueError, match=_mismatch_message("bool", np.dtype(given).name)):
            call(bool_model, da.from_array(image, chunks=12))


def test_a_uint8_model_refuses_bool_images():
    uint8_model = quantize(MASK.astype(np.uint8), 2).model  # 0 / 1 in uint8: still not a bool image
    with pytest.raises(ValueError, match=_mismatch_message("uint8", "bool")):
        apply_model(uint8_model, MASK)
    with pytest.raises(ValueError, match=_mismatch_message("uint8", "bool")):
        apply_model(uint8_model, da.from_array(MASK, chunks=12))


def test_colours_round_into_bool_as_into_uint8():
    values = np.array([0.0, 0.4, 0.6, 1.0])
    np.testing.assert_array_equal(to_dtype(values, bool), to_dtype(values, np.uint8).astype(bool))
