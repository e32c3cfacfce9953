"""Hostile model files: every malformed field is a ValueError naming it, never another exception."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_colorquant import ClusterModel, quantize
from napari_colorquant.cli import main


@pytest.fixture(scope="module")
def good() -> dict:
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return quantize(rgb, 3, method="em").model.to_dict()


@pytest.fixture(scope="module")
def good_gray() -> dict:
    gray = np.random.default_rng(1).integers(0, 256, (8, 8), dtype=np.uint8)
    return quantize(gray, 2).model.to_dict()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scale", "255"),
        ("scale", [255]),
        ("scale", True),
        ("scale", 0),
        ("scale", -1.0),
        ("offset", "x"),
        ("offset", {"a": 1}),
        ("n_channels", "3"),
        ("n_channels", 3.0),
        ("n_channels", 1),
        ("n_iter", "ten"),
        ("n_iter", -1),
        ("n_fit_pixels", [1]),
        ("n_fit_pixels", -5),
        ("converged", "yes"),
        ("inertia", "big"),
        ("means", "[[1, 2, 3]]"),
        ("means", [[1, 2], [3, 4], [5, 6]]),
        ("means", [["a", 1, 2]] * 3),
        ("palette", [[1, 2, 3]]),
        ("covariances", [[[1.0]]]),
        ("mixing_weights", [1.0]),
        ("method", 3),
        ("color_space", ["rgb"]),
        ("color_space", "gray"),
        ("color_space", "ycrcb-chroma"),
        ("input_kind", "gray"),
        ("dtype", 8),
        ("dtype", "object"),
        ("n_clusters", 7),
        ("params", [1, 2]),
        ("params", {"covariance": "banana"}),
    ],
)
def test_bad_field_is_a_value_error_naming_it(good, field, value):
    data = json.loads(json.dumps(good))
    data[field] = value
    with pytest.raises(ValueError, match=field.split("_")[0]):
        ClusterModel.from_dict(data)


def test_gray_model_fields_must_agree(good_gray):
    data = dict(good_gray, n_channels=3, palette=[[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match=r"n_channels|input_kind"):
        ClusterModel.from_dict(data)
    assert ClusterModel.from_dict(good_gray).n_clusters == 2


def test_deeply_nested_json_is_a_value_error():
    deep = '{"method": ' + "[" * 100000 + "]" * 100000 + "}"
    with pytest.raises(ValueError, match="nested"):
        ClusterModel.from_json(deep)


def test_deeply_nested_params_are_a_value_error(good):
    value: list = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(ValueError, match="params"):
        ClusterModel.from_dict(dict(good, params={"init": value}))


def test_good_model_round_trips(good):
    model = ClusterModel.from_dict(good)
    assert ClusterModel.from_json(model.to_json()).to_dict() == model.to_dict()


def test_cli_reports_a_bad_model_in_one_line(tmp_path, capsys, good):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(dict(good, scale="255")))
    assert main(["--sample", "plate", "--apply", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'scale'" in err and "Traceback" not in err
