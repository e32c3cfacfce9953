"""``engine="opencv"``: its models read back, it uses or refuses every parameter, and validates like the fast engine."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import ClusterModel, apply_model, quantize

RGB = np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "image", [np.repeat([[0, 255]], 10, axis=0).astype(np.uint8), np.stack([RGB[..., 0] // 128 * 255] * 3, -1)]
)
def test_em_model_of_a_binary_image_reads_back_and_applies(image, tmp_path):
    result = quantize(image, 2, method="em", engine="opencv")
    again = ClusterModel.from_json(result.model.to_json())
    assert (np.linalg.eigvalsh(again.covariances) > 0).all()
    np.testing.assert_array_equal(apply_model(again, image).labels, result.labels)


@pytest.mark.parametrize("method", ["kmeans", "em"])
@pytest.mark.parametrize(
    ("init", "message"),
    [(np.full((2, 3), np.nan), "NaN"), (np.zeros((3, 3)), "shape"), (np.zeros((2, 2)), "shape")],
)
def test_bad_init_arrays_are_refused_like_the_fast_engine(method, init, message):
    for engine in ("fast", "opencv"):
        with pytest.raises(ValueError, match=message):
            quantize(RGB, 2, method=method, engine=engine, init=init)


def test_seed_beyond_c_int_is_a_clear_error():
    with pytest.raises(ValueError, match="seed"):
        quantize(RGB, 2, engine="opencv", seed=2**40)
    assert quantize(RGB, 2, engine="opencv", seed=2**31 - 1).model.params["seed"] == 2**31 - 1


@pytest.mark.parametrize(("kwargs", "name"), [({"init": "random"}, "init"), ({"attempts": 3}, "attempts")])
def test_em_refuses_what_opencv_em_cannot_do(kwargs, name):
    with pytest.raises(ValueError, match=name):
        quantize(RGB, 2, method="em", engine="opencv", **kwargs)


def test_kmeans_uses_init_and_attempts_and_records_them():
    one = quantize(RGB, 3, engine="opencv", init="random", attempts=1, seed=1)
    many = quantize(RGB, 3, engine="opencv", init="random", attempts=5, seed=1)
    assert many.model.inertia <= one.model.inertia
    assert many.model.params["attempts"] == 5 and many.model.params["init"] == "random"
    start = np.array([[10.0, 10, 10], [120, 120, 120], [240, 240, 240]])
    given = quantize(RGB, 3, engine="opencv", init=start, max_iter=1, epsilon=0)
    assert given.model.params["init"] == start.tolist()


def test_em_with_given_means_records_them():
    start = np.array([[60.0, 60, 60], [200, 200, 200]])
    result = quantize(RGB, 2, method="em", engine="opencv", init=start)
    assert result.model.params["init"] == start.tolist() and result.model.params["attempts"] == 1


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_a_single_valid_pixel(method):
    image = np.full((3, 3, 3), np.nan, np.float32)
    image[1, 1] = (0.2, 0.4, 0.6)
    engines = ("fast", "opencv") if method == "kmeans" else ("fast",)
    if method == "em":
        with pytest.raises(ValueError, match="at least 2 valid pixels"):
            quantize(image, 1, method=method, engine="opencv")
    for engine in engines:
        result = quantize(image, 1, method=method, engine=engine)
        assert result.labels[1, 1] == 1 and (result.labels != 0).sum() == 1
        ClusterModel.from_json(result.model.to_json())
    with pytest.raises(ValueError, match="n_clusters"):
        quantize(image, 2, method=method, engine="opencv")


def test_report_says_opencv_gives_no_iteration_count():
    """cv2.kmeans / cv2.ml.EM do not report iterations: the report says so instead of printing None."""
    from napari_colorquant.report import report_lines

    image = np.repeat(np.arange(0, 250, 25, dtype=np.uint8), 20).reshape(10, 20)
    for method in ("kmeans", "em"):
        lines = report_lines(quantize(image, 2, method=method, engine="opencv").summary())
        iterations = next(line for line in lines if line.startswith("iterations"))
        assert "None" not in iterations and "not reported by OpenCV" in iterations
