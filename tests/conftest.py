"""Shared fixtures: real images shipped inside installed packages or in tests/data."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).parents[1].parent / "shared" / "data"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Move what outlived the previous tests out of the garbage collector's sight.

    napari runs a full ``gc.collect()`` on every layer removal and viewer close; with everything the
    session has imported and built still tracked, each takes 0.2-0.5 s. Collecting here first and then
    freezing the survivors keeps those collections to the objects of the running test. This changes no
    test: garbage of earlier tests is collected here, before the freeze.
    """
    gc.collect()
    gc.freeze()


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
