"""Explorer speed: a feature-space selection reaching every pixel vs one label-lookup pass, and the density.

Target (issue 10): a selection reaches the image in no more than about 3x the time of one
label-lookup pass over it, and the density renders in well under a second.

    PYTHONPATH=src python benchmarks/bench_explorer.py [--voxels 100000000] [--repeat 3]

Images: the 12 MP photo from ../shared/data (skipped if absent) and a synthetic uint16 stack
(smooth structures plus noise) of ``--voxels`` voxels. Timings are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

from napari_colorquant import explore, quantize

PHOTO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "large_lomiri_sunset_12MP.jpg"


def best(func, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def render_seconds(data: explore.FeatureData, axes: tuple[int, int], repeat: int) -> float:
    """Density histogram plus a full matplotlib draw (Agg) of the log-scaled image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    def render():
        figure = Figure(figsize=(5, 4.2))
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        if axes[0] == axes[1]:
            counts, edges = explore.histogram(data.features, data.counts, axes[0])
            ax.stairs(counts, edges, fill=True)
        else:
            hist, xe, ye = explore.density(data.features, data.counts, axes)
            ax.imshow(np.ma.masked_equal(hist.T, 0), origin="lower", aspect="auto", norm=LogNorm(vmin=1),
                      extent=(xe[0], xe[-1], ye[0], ye[-1]))  # fmt: skip
        figure.savefig(io.BytesIO(), format="png")

    return best(render, repeat)[0]


def case(name: str, image: np.ndarray, k: int, region: explore.Region, repeat: int) -> None:
    start = time.perf_counter()
    result = quantize(image, k)
    data = explore.feature_data(result, image)
    prepare = time.perf_counter() - start
    per_value_labels = data.labels.astype(result.model.label_dtype)
    lookup, _ = best(lambda: explore.to_pixels(data.table, per_value_labels), repeat)
    selection = explore.Selection().then(region)

    def select():
        return explore.selection_pixels(data, selection.contains(data.features))

    select_time, mask = best(select, repeat)
    render = render_seconds(data, region.axes, repeat)
    print(f"{name}: {image.shape} {image.dtype}, {data.values.shape[0]:,} distinct values, "
          f"{100 * mask.mean():.1f} % selected (run + explorer set-up {prepare:.2f} s)")  # fmt: skip
    print(f"  one label-lookup pass   {lookup * 1000:8.1f} ms")
    print(f"  selection -> pixels     {select_time * 1000:8.1f} ms   ratio {select_time / lookup:.2f}x (target <= ~3x)")
    print(f"  density render (Agg)    {render * 1000:8.1f} ms   (target well under 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voxels", type=float, default=1e8, help="voxels of the synthetic uint16 stack")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if PHOTO.is_file():
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None
        photo = np.asarray(Image.open(PHOTO).convert("RGB"))
        angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
        lasso = np.column_stack([128 + 70 * np.cos(angles), 110 + 60 * np.sin(angles)])  # 200-vertex lasso in R, G
        case("12 MP photo, lasso of 200 vertices", photo, 8, explore.Region("polygon", (0, 1), lasso), args.repeat)
    else:
        print(f"skipped the 12 MP photo: {PHOTO} is absent")
    side = round((args.voxels / 50) ** 0.5)
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[:50, :side, :side]
    stack = 12_000 + 9_000 * np.sin(x / 37.0) * np.cos(y / 23.0 + z / 7.0)
    stack = (stack + rng.normal(0, 400, size=(1, side, side))).astype(np.uint16)
    case(f"uint16 stack ({stack.size / 1e6:.0f} M voxels), intensity interval", stack, 4,
         explore.Region("interval", (0, 0), [(10_000.5, 16_000.5)]), args.repeat)  # fmt: skip


if __name__ == "__main__":
    main()
