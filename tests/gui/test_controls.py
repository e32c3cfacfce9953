"""The widget's parameter controls are made from the parameter record: one default, help, choice list and bound."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant._napari import controls as _controls
from napari_colorquant._napari import writer
from napari_colorquant.params import MAX_CLUSTERS, NOTEBOOK_CRITERIA, ClusterParameters


def test_every_field_of_the_record_has_a_control_with_its_default_help_choices_and_bounds(make_viewer, dock):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    shown = {w.name for w in widget}
    for spec in ClusterParameters.fields():
        assert spec.name in shown, f"{spec.name} is in the record but not in the widget"
        control = getattr(widget, spec.name)
        if spec.name in _controls.LAYER_PICKED:
            continue  # choices depend on the layer; checked below
        assert control.tooltip == spec.help
        assert widget.controls.params()[spec.name] == spec.default or spec.name == "method"
        if spec.choices:
            assert tuple(control.choices) == spec.choices
        elif spec.type is tuple:  # typed as text (k_range "2,16"; fixed colours "255,255,255; 0,0,0")
            assert _controls.parse_text(spec, control.value) == spec.default
        else:  # None (optional) or a word (K "auto") sits one below the field's minimum
            assert control.min == (spec.minimum - 1 if spec.optional or spec.words else spec.minimum)
            if spec.maximum is not None:
                assert control.max == spec.maximum
    assert widget.color_space.tooltip == ClusterParameters.field("color_space").help
    assert set(widget.color_space.choices) <= set(ClusterParameters.field("color_space").choices)
    # one K limit: the record's, not the 8-bit PNG's
    assert widget.n_clusters.max == MAX_CLUSTERS
    widget.n_clusters.value = 300
    assert widget.controls.params()["n_clusters"] == 300


def test_the_controls_give_what_quantize_takes(make_viewer, dock):
    viewer = make_viewer()
    viewer.add_image(quantize_input := _small_rgb(), name="small", rgb=True)
    widget = dock(viewer, "EM clustering")
    params = widget.controls.params()
    assert set(params) == {spec.name for spec in ClusterParameters.fields()} - {"channel_axis"}
    assert ClusterParameters(**params).to_dict() == {**ClusterParameters().to_dict(), "method": "em"}
    widget.max_samples.value = widget.max_samples.min  # "0: never": fit on every distinct value
    assert widget.max_samples.label.endswith(f"(0: {_controls.NONE_TEXT})")
    assert widget.controls.params()["max_samples"] is None
    widget.max_samples.value = 1000
    widget.n_clusters.value = 3
    result = quantize(quantize_input, **widget.controls.params())
    assert result.model.n_clusters == 3 and result.model.params["max_samples"] == 1000


def _small_rgb():
    return np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_method_specific_and_advanced_controls_show_only_when_they_apply(make_viewer, dock, method):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)

    def shown(name):  # visible within the dock widget, row label included
        return getattr(widget, name).native.isVisibleTo(widget.native)

    widget.method.value = method
    assert shown("covariance") == (method == "em")
    for name in _controls.ADVANCED:
        assert not shown(name)
    widget.advanced.native.click()  # QAbstractButton.click: the press-release a user makes
    assert widget.advanced.value
    for name in _controls.ADVANCED:
        assert shown(name) == (_controls.ONLY_FOR_METHOD.get(name, method) == method)
    for name in NOTEBOOK_CRITERIA:
        assert shown(name)


def test_k_above_an_8_bit_palette_runs_and_the_png_writer_says_what_to_do(make_viewer, dock, run_and_wait,
                                                                          tmp_path):  # fmt: skip
    viewer = make_viewer()
    gray = np.arange(24 * 24, dtype=np.uint16).reshape(24, 24)  # 576 distinct values
    viewer.add_image(gray, name="ramp")
    widget = dock(viewer)
    widget.n_clusters.value = 300
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = viewer.layers["ramp clusters"].data
    assert labels.dtype == np.uint16 and int(labels.max()) == 300
    np.testing.assert_array_equal(labels, quantize(gray, **widget.controls.params()).labels)
    assert writer.write_labels(str(tmp_path / "ramp.png"), labels, {}) == []  # refused, with a notification
    assert not (tmp_path / "ramp.png").exists()
    assert writer.write_labels(str(tmp_path / "ramp.tif"), labels, {}) == [str(tmp_path / "ramp.tif")]


def test_a_library_error_names_the_control_not_the_python_parameter(make_viewer, dock, run_and_wait, notifications):
    viewer = make_viewer()
    viewer.add_image(np.repeat(np.arange(12, dtype=np.uint8) * 20, 10).reshape(12, 10), name="steps")  # 12 levels
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 30, "none"
    run_and_wait(widget)
    assert widget.status.value == "failed"
    assert widget.report.value.startswith("clusters (K) = 30 is larger than the number of distinct")
    assert "n_clusters" not in widget.report.value and "n_clusters" not in notifications["error"][-1]


def test_in_widget_words_translates_every_parameter_name_to_its_label():
    assert _controls.in_widget_words("color_space 'rgb' needs an RGB image") == "feature space 'rgb' needs an RGB image"
    assert (
        _controls.in_widget_words("max_iter must be >= 1; n_clusters=3")
        == "max iterations must be >= 1; clusters (K) = 3"
    )
    assert _controls.in_widget_words("n_clustersX stays") == "n_clustersX stays"


def test_attempts_and_em_regularisation_controls_stop_at_the_record_bounds(make_viewer, dock):
    from napari_colorquant.params import MAX_ATTEMPTS, MAX_REG_COVAR

    viewer = make_viewer()
    viewer.add_image(_small_rgb(), name="small", rgb=True)
    widget = dock(viewer, "EM clustering")
    assert (widget.attempts.max, widget.reg_covar.max) == (MAX_ATTEMPTS, MAX_REG_COVAR) == (1000, 0.1)
    widget.attempts.native.setValue(10**6)  # what the Qt box does with a value beyond its range: holds its maximum
    widget.reg_covar.native.setValue(1e300)
    params = widget.controls.params()
    assert (params["attempts"], params["reg_covar"]) == (1000, 0.1)
    assert ClusterParameters(**params).reg_covar == 0.1
