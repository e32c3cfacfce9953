"""The parameter record validates once, round-trips, and is what the CLI parser is built from; registries."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from napari_colorquant import colorspaces, methods, quantize
from napari_colorquant.cli import build_parser, main
from napari_colorquant.params import MAX_ATTEMPTS, MAX_CLUSTERS, MAX_REG_COVAR, ClusterParameters


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"n_clusters": True}, TypeError, r"n_clusters must be an integer"),
        ({"n_clusters": MAX_CLUSTERS + 1}, ValueError, r"n_clusters must be an integer in 1\.\.65535"),
        ({"channel_axis": True}, TypeError, r"channel_axis must be an integer"),
        ({"channel_axis": 1.0}, TypeError, r"channel_axis must be an integer"),
        ({"epsilon": True}, TypeError, r"epsilon must be a number"),
        ({"epsilon": math.nan}, ValueError, r"epsilon must be a finite number"),
        ({"reg_covar": math.nan}, ValueError, r"reg_covar must be a finite number"),
        ({"reg_covar": -1e-6}, ValueError, r"reg_covar must be a finite number in 0\.\.0\.1, got -1e-06$"),
        ({"reg_covar": "1e-6"}, TypeError, r"reg_covar must be a number"),
        ({"max_samples": 0}, ValueError, r"max_samples must be an integer >= 1"),
        ({"max_samples": 1.5}, TypeError, r"max_samples must be an integer"),
        ({"covariance": ["full"]}, TypeError, r"covariance must be a string"),
        ({"init": ["kmeans++"]}, TypeError, r"init must be 'kmeans\+\+', 'random' or a 2-D numeric array"),
        ({"init": [[0.0, np.nan, 0.0]]}, ValueError, r"init array contains NaN or inf"),
        ({"init": np.zeros(3)}, TypeError, r"2-D numeric array"),
        ({"method": "dbscan"}, ValueError, r"unknown method 'dbscan'; accepted: 'kmeans', 'em'"),
        ({"color_space": "hsv"}, ValueError, r"unknown color_space 'hsv'; accepted: 'auto', 'gray'"),
        ({"engine": "opencv", "seed": 2**31}, ValueError, r"seed must be at most 2147483647 with engine='opencv'"),
        ({"max_iter": 2.0}, TypeError, r"max_iter must be an integer"),
    ],
)
def test_bad_parameter_names_itself(changes, error, message):
    with pytest.raises(error, match=message):
        ClusterParameters(**changes)


def test_large_seed_is_fine_for_the_fast_engine():
    assert ClusterParameters(seed=2**40).seed == 2**40


def test_parameters_round_trip_through_json():
    params = ClusterParameters(n_clusters=3, method="em", init=np.arange(9.0).reshape(3, 3), covariance="diag")
    assert params.covariance == "diagonal"
    again = ClusterParameters.from_dict(json.loads(json.dumps(params.to_dict())))
    assert again == params and hash(again) == hash(params)
    np.testing.assert_array_equal(again.init_array, np.arange(9.0).reshape(3, 3))


def test_model_records_the_parameters(china):
    result = quantize(china[:40, :40], 3, method="em", seed=5)
    params = ClusterParameters.from_dict(result.model.params)
    assert params.n_clusters == 3 and params.method == "em" and params.seed == 5
    assert params.color_space == result.model.color_space == "rgb"


def test_every_choice_comes_from_a_registry():
    fields = {spec.name: spec for spec in ClusterParameters.fields()}
    assert fields["method"].choices == methods.METHODS == tuple(methods.REGISTRY)
    assert fields["color_space"].choices == ("auto", *colorspaces.COLOR_SPACES)
    assert fields["n_clusters"].maximum == MAX_CLUSTERS and fields["n_clusters"].minimum == 1


def test_cli_parser_is_built_from_the_fields():
    parser = build_parser()
    actions = {action.dest: action for action in parser._actions}
    for spec in ClusterParameters.fields():
        assert actions[spec.name].default == spec.default
        assert tuple(actions[spec.name].choices or ()) == spec.choices
    args = parser.parse_args(["x.png", "-o", "out", "-k", "3", "--method", "em", "--reg-covar", "0.01"])
    assert (args.n_clusters, args.method, args.reg_covar) == (3, "em", 0.01)


def test_unknown_registry_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown method 'gmm'; accepted: 'kmeans', 'em'"):
        methods.get_method("gmm")
    with pytest.raises(ValueError, match=r"unknown color_space 'hsv'; accepted: 'gray'"):
        colorspaces.get_color_space("hsv")


@pytest.mark.parametrize("name", colorspaces.COLOR_SPACES)
def test_color_space_entries_are_consistent(name):
    space = colorspaces.get_color_space(name)
    rgb = np.random.default_rng(0).integers(0, 256, (50, 3)).astype(np.float64)
    features = colorspaces.to_features(rgb, name, 255.0, 128.0)
    assert features.shape[1] == (space.n_features or 3) == len(space.names(3))
    if "rgb" in space.input_kinds and name != "gray":
        luminance = colorspaces.kept_luminance(rgb, name, 255.0, 128.0) if space.chroma else None
        back = colorspaces.from_features(features, name, 255.0, 128.0, luminance)
        np.testing.assert_allclose(back, rgb, atol=1e-6)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"reg_covar": 1e300},
            r"^reg_covar must be a finite number in 0\.\.0\.1, got 1e\+300; it is a fraction of the features' mean "
            r"variance .* keep the default 1e-06, or up to 0\.01",
        ),
        ({"reg_covar": 0.5}, r"^reg_covar must be a finite number in 0\.\.0\.1, got 0\.5; "),
        (
            {"attempts": 10**6},
            r"^attempts must be an integer in 1\.\.1000, got 1000000; each start is a full k-means run .* use 10 "
            r"\(scikit-learn's n_init\) to 100",
        ),
        ({"attempts": 1001}, r"^attempts must be an integer in 1\.\.1000, got 1001; "),
    ],
)
def test_values_that_cannot_give_a_sensible_answer_are_refused_with_the_range_and_what_to_do(changes, message):
    with pytest.raises(ValueError, match=message):
        ClusterParameters(**changes)


def test_the_largest_accepted_reg_covar_and_attempts_still_fit(china):
    assert ClusterParameters(reg_covar=MAX_REG_COVAR, attempts=MAX_ATTEMPTS).attempts == 1000
    photo = china[::8, ::8]
    for reg_covar in (MAX_REG_COVAR, 1e300):
        if reg_covar > MAX_REG_COVAR:
            with pytest.raises(ValueError, match="reg_covar"):
                quantize(photo, 4, method="em", reg_covar=reg_covar)
            continue
        result = quantize(photo, 4, method="em", reg_covar=reg_covar)
        assert np.unique(result.labels).size == 4  # every cluster still used at the bound


@pytest.mark.parametrize(
    ("option", "flag_message"),
    [
        (["--method", "em", "--reg-covar", "1e300"], "--reg-covar must be a finite number in 0..0.1, got 1e+300; "),
        (["--attempts", "1000000"], "--attempts must be an integer in 1..1000, got 1000000; "),
    ],
)
def test_cli_refuses_them_with_one_line_and_exit_status_2(tmp_path, capsys, option, flag_message):
    assert main(["--sample", "plate", "-o", str(tmp_path / "out"), *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"napari-colorquant: error: {flag_message}") and err.count("\n") == 1
    assert "Traceback" not in err and not (tmp_path / "out").exists()
