"""Quality over several images: k-means MSE of ours vs cv2.kmeans and scikit-learn KMeans, K = 16.

Random starts differ between libraries, so one image says little; this runs
the notebook's settings (10 iterations, epsilon 0.2, one attempt, k-means++
starts) on every colour photo in ../shared/data (plus scikit-learn's two
samples) and reports each image's MSE ratio and the median.

    python benchmarks/bench_quality.py [--k 16] [--seeds 0,1,2]

Not a test: it prints a table and writes benchmarks/results/quality.csv.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.cluster import KMeans

from napari_colorquant import quantize
from napari_colorquant.files import read_image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def images():
    from sklearn.datasets import load_sample_image

    yield "sklearn china", load_sample_image("china.jpg")
    yield "sklearn flower", load_sample_image("flower.jpg")
    for path in sorted(SHARED.glob("*")):
        # photo_sklearn_* are copies of the two samples above.
        if path.name.startswith(("photo_", "large_", "micro_napari_bio_skin")) and "sklearn" not in path.name:
            image = read_image(path)
            if image.ndim == 3 and image.shape[-1] >= 3 and image.dtype == np.uint8:
                yield path.stem, np.ascontiguousarray(image[..., :3])


def mse(image: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> float:
    palette = np.clip(np.rint(centres), 0, 255)
    diff = image.reshape(-1, 3).astype(np.float64) - palette[labels.reshape(-1)]
    return float((diff**2).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "local" / "quality.csv")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.2)
    for name, image in images():
        for seed in seeds:
            start = time.perf_counter()
            ours = quantize(image, args.k, init="kmeans++", seed=seed).mse
            pixels = np.float32(image.reshape(-1, 3))
            cv2.setRNGSeed(seed)
            _, labels, centres = cv2.kmeans(pixels, args.k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
            theirs_cv2 = mse(image, labels, centres)
            km = KMeans(args.k, n_init=1, max_iter=10, random_state=seed).fit(image.reshape(-1, 3))
            theirs_sklearn = mse(image, km.labels_, km.cluster_centers_)
            row = {
                "image": name,
                "megapixels": image.shape[0] * image.shape[1] / 1e6,
                "seed": seed,
                "ours": ours,
                "cv2": theirs_cv2,
                "sklearn": theirs_sklearn,
                "ours/cv2": ours / theirs_cv2,
                "ours/sklearn": ours / theirs_sklearn,
            }
            rows.append(row)
            print(
                f"{name:32s} {row['megapixels']:5.2f} MP seed {seed}: ours {ours:8.2f}  cv2 {theirs_cv2:8.2f}  "
                f"sklearn {theirs_sklearn:8.2f}  ours/cv2 {row['ours/cv2']:.3f}  ours/sklearn "
                f"{row['ours/sklearn']:.3f}  ({time.perf_counter() - start:.1f} s)",
                flush=True,
            )
    for other in ("cv2", "sklearn"):
        ratios = [r[f"ours/{other}"] for r in rows]
        print(f"median MSE ratio ours/{other}: {statistics.median(ratios):.3f} over {len(ratios)} runs "
              f"(worst {max(ratios):.3f}, best {min(ratios):.3f})")  # fmt: skip
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
