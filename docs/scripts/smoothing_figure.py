"""Before/after figure of Potts smoothing on a real 3-D stack (docs/images/smoothing_kidney.png).

Run from a clone: ``python docs/scripts/smoothing_figure.py [path/to/stack.tif]``. The default stack is
scikit-image's kidney (16 z-planes, 3 channels, uint16) cropped to 256 x 256, from ``../shared/data``.
Prints the pixels the smoothing changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
NAME = "micro_skimage_kidney_3d_3ch_u16_crop256.tif"
# The shared data folder sits next to the clone (or next to the folder of worktrees).
DEFAULT = next((p / "shared" / "data" / NAME for p in ROOT.parents if (p / "shared" / "data" / NAME).exists()), NAME)


def main(path: Path = DEFAULT, beta: float = 1.0, n_clusters: int = 4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tifffile

    from napari_colorquant.quantize import quantize
    from napari_colorquant.smoothing import smooth_table

    stack = tifffile.imread(path)  # (z, c, y, x)
    result = quantize(stack, n_clusters, channel_axis=1, seed=0)
    model = result.model
    smoothed = smooth_table(model, model.pixel_table(stack, channel_axis=1), beta)
    changed = int(np.count_nonzero(smoothed != result.labels))
    print(f"{path.name}: {changed} of {smoothed.size} pixels changed ({100 * changed / smoothed.size:.1f} %)")
    z = stack.shape[0] // 2
    rgb = np.moveaxis(stack[z], 0, -1).astype(np.float64)
    rgb = np.clip(rgb / np.percentile(rgb, 99.5, axis=(0, 1)), 0, 1)
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4), constrained_layout=True)
    panels = [
        (rgb, f"input (z = {z}, 3 channels)"),
        (result.labels[z], f"k-means K = {n_clusters}, pixel-wise"),
        (smoothed[z], f"smoothing β = {beta:g} (3-D): {100 * changed / smoothed.size:.1f} % of voxels changed"),
    ]
    for axis, (image, title) in zip(axes, panels, strict=True):
        axis.imshow(image, cmap=None if image.ndim == 3 else "tab10", vmin=None if image.ndim == 3 else 0,
                    vmax=None if image.ndim == 3 else 9, interpolation="nearest")  # fmt: skip
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("x (pixels)")
        axis.set_ylabel("y (pixels)")
    out = ROOT / "docs" / "images" / "smoothing_kidney.png"
    figure.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(DEFAULT))
