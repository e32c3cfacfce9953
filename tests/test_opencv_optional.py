"""OpenCV is used for a sort and a palette lookup only when the process has loaded it: both paths agree exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import napari_colorquant as ncq
from napari_colorquant import _loaded, pixels, result


@pytest.fixture
def without_opencv(monkeypatch):
    """The kernels' choice as in a process that has not imported OpenCV (NumPy's sort and ``np.take``)."""
    for module in (pixels, result):
        monkeypatch.setattr(module, "opencv", lambda: None)


@pytest.mark.parametrize(("short", "loaded"), [(False, True), (True, False)])
def test_the_library_imports_opencv_and_a_short_process_can_do_without(short, loaded):
    # The widget and scripts import OpenCV on first use and keep its faster kernels; the CLI on one input
    # (a short process) does without it.
    code = (
        "import sys, json, numpy as np, napari_colorquant as q\n"
        "from napari_colorquant import _loaded\n"
        f"if {short}:\n"
        "    _loaded.keep_opencv_unloaded()\n"
        "q.quantize(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), 4)\n"
        "print(json.dumps('cv2' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.splitlines()[-1]) is loaded


def test_opencv_is_the_module_once_loaded():
    import cv2

    assert _loaded.opencv() is cv2


@pytest.mark.parametrize(("k", "masked"), [(2, False), (8, False), (8, True), (16, False)])
def test_quantize_is_the_same_with_and_without_opencv(china, k, masked, request):
    mask = None
    if masked:
        mask = np.ones(china.shape[:2], bool)
        mask[100:200, 150:400] = False
    import cv2  # noqa: F401  (the first run uses OpenCV's sort and colour map)

    with_cv2 = ncq.quantize(china, k, mask=mask)
    request.getfixturevalue("without_opencv")
    without = ncq.quantize(china, k, mask=mask)
    np.testing.assert_array_equal(without.labels, with_cv2.labels)
    np.testing.assert_array_equal(without.quantized, with_cv2.quantized)
    np.testing.assert_array_equal(without.model.means, with_cv2.model.means)
    np.testing.assert_array_equal(without.model.palette, with_cv2.model.palette)
    np.testing.assert_array_equal(without.table.values, with_cv2.table.values)
    np.testing.assert_array_equal(without.table.counts, with_cv2.table.counts)


@pytest.mark.parametrize("with_mask", [False, True])
def test_sorted_distinct_matches_numpy_unique_either_way(monkeypatch, with_mask):
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 1 << 24, 50_000, dtype=np.uint32)
    keys[::7] = keys[3]  # repeats
    valid = rng.random(keys.size) < 0.7 if with_mask else None
    expected_keys, expected_counts = np.unique(keys if valid is None else keys[valid], return_counts=True)
    import cv2  # noqa: F401

    fast = pixels._sorted_distinct(keys, valid)
    monkeypatch.setattr(pixels, "opencv", lambda: None)
    plain = pixels._sorted_distinct(keys, valid)
    for found_keys, found_counts in (fast, plain):
        assert found_keys.dtype == keys.dtype
        np.testing.assert_array_equal(found_keys, expected_keys)
        np.testing.assert_array_equal(found_counts, expected_counts)
