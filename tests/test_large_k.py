"""Large K: refused at once with the limit and what to do, or fitted in bounded memory (issue 8 item 14)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.fitting import MAX_CLUSTER_PAIRS
from napari_colorquant.params import MAX_CLUSTERS
from napari_colorquant.samples import load_sample

MiB = 1 << 20


def _peak(function) -> tuple[object, int]:
    """``function()``'s result (or the exception it raised) and the peak bytes Python allocated meanwhile."""
    tracemalloc.start()
    try:
        outcome = function()
    except ValueError as error:
        outcome = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak


@pytest.fixture(scope="module")
def uint16_noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 65536, (256, 256), dtype=np.uint16)  # 41,443 distinct values


def test_k_30000_on_a_uint16_image_is_refused_at_once_naming_the_limit(uint16_noise):
    outcome, peak = _peak(lambda: quantize(uint16_noise, 30000))
    assert isinstance(outcome, ValueError)
    message = str(outcome)
    largest = MAX_CLUSTER_PAIRS["kmeans"] // 41_443
    assert "n_clusters=30000" in message and f"{MAX_CLUSTER_PAIRS['kmeans']:,}" in message
    assert f"at most {largest:,} clusters" in message
    assert "max_samples" not in message  # a sample within the limit would leave under 10 values per cluster
    assert peak < 16 * MiB  # counted, then refused before any fit (it used to allocate until MemoryError)


def test_large_k_kmeans_memory_is_bounded_by_blocking_over_clusters(uint16_noise):
    result, peak = _peak(lambda: quantize(uint16_noise, 2000, init="random", max_iter=3))
    assert result.model.n_clusters == 2000
    unblocked = 2000 * 41_443 * 8  # one float64 distance per value and centre: 663 MB
    assert peak < 32 * MiB and unblocked > 600 * MiB


def test_em_k_2000_on_a_tiny_image_stays_within_its_posterior_matrix():
    crop = np.ascontiguousarray(load_sample("flower")[250:300, :213])  # 32 kB, 3,433 distinct colours
    distinct = len(np.unique(crop.reshape(-1, 3), axis=0))
    result, peak = _peak(lambda: quantize(crop, 2000, method="em", max_iter=1))  # the peak is in every iteration
    assert result.model.n_clusters == 2000
    posterior_matrix = 2000 * distinct * 8
    assert peak < 4 * posterior_matrix + 32 * MiB  # it used to peak at 4.3 GB on a 128 kB image
    assert 4 * MAX_CLUSTER_PAIRS["em"] * 8 <= 4 << 30  # the limit keeps that under 4 GiB whatever the image


def test_em_with_k_beyond_its_limit_is_refused_at_once():
    noise = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    outcome, peak = _peak(lambda: quantize(noise, 3000, method="em"))
    assert isinstance(outcome, ValueError)
    assert "n_clusters=3000" in str(outcome) and f"{MAX_CLUSTER_PAIRS['em']:,}" in str(outcome)
    assert f"max_samples={MAX_CLUSTER_PAIRS['em'] // 3000:,}" in str(outcome)
    assert peak < 32 * MiB
    outcome = _peak(lambda: quantize(noise, 3000, method="em", engine="opencv"))[0]
    assert isinstance(outcome, ValueError) and "engine='opencv' fits every pixel" in str(outcome)


def test_cli_k_70000_is_one_line_naming_the_option_and_the_limit(tmp_path, capsys):
    assert main(["--sample", "plate", "-k", "70000", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("napari-colorquant: error: -k/--clusters must be an integer in 1..")
    assert f"..{MAX_CLUSTERS}" in err[0] and "got 70000" in err[0]
    assert not (tmp_path / "out").exists()
