"""Shared fixtures: real images shipped inside installed packages or in tests/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).parents[1].parent / "shared" / "data"


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only copy: any attempt to modify the input raises."""
    out = np.array(array)
    out.flags.writeable = False
    return out


@pytest.fixture(scope="session")
def dask_cluster():
    """One local dask.distributed cluster shared by the tests that need one (starting one takes seconds)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def china() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return read_only(load_sample_image("china.jpg"))


@pytest.fixture(scope="session")
def flower() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return read_only(load_sample_image("flower.jpg"))


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    from skimage import data

    return read_only(data.camera())


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return read_only(data.astronaut())


@pytest.fixture(scope="session")
def plate() -> np.ndarray:
    from PIL import Image

    return read_only(np.asarray(Image.open(DATA / "plate1.png").convert("L")))


@pytest.fixture(scope="session")
def hela_u16() -> np.ndarray:
    import tifffile

    return read_only(tifffile.imread(DATA / "hela_crop256_u16.tif"))


@pytest.fixture(scope="session")
def kidney_zcyx() -> np.ndarray:
    import tifffile

    return read_only(tifffile.imread(DATA / "kidney_z4_c3_64x64_u16.tif"))
