"""Values whose squares overflow float64, and Python lists as images: clear errors, not OverflowError."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_colorquant import quantize
from napari_colorquant.cli import main


@pytest.mark.parametrize(
    "image",
    [np.array([[1e300, -1e300], [0.0, 5e299]]), np.array([[1e300, 1e299], [0.0, 5e299]], np.float64)],
)
def test_values_near_1e300_are_a_clear_error(image):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="too large to cluster"):
        quantize(image, 2)


def test_large_but_safe_values_still_work():
    image = np.array([[1e100, 2e100], [3e100, 4e100]])
    assert quantize(image, 2).labels.shape == (2, 2)


def test_cli_reports_huge_values_in_one_line(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "huge.tif", np.array([[1e300, 0.0], [5e299, 1.0]]))
    with np.errstate(all="ignore"):
        assert main([str(tmp_path / "huge.tif"), "-k", "2", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "too large to cluster" in err and err.count("\n") == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_nested_python_list_image_is_a_clear_type_error():
    with pytest.raises(TypeError, match="Python list"):
        quantize([[0, 1], [2, 3]], 2)
    assert quantize([[0.0, 1.0], [0.5, 0.25]], 2).labels.shape == (2, 2)
