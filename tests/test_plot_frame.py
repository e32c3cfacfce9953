"""A 2-D feature plot's own axes (no napari): round ticks, their texts, the frame next to the data, marker sizes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import feature_space as fs


@pytest.mark.parametrize(("low", "high"), [(0, 255), (10000, 40000), (-0.37, 0.81), (0.001, 0.0042), (128, 129),
                                           (-120.5, 95.25), (3e-7, 9e-7), (65000, 65535)])  # fmt: skip
@pytest.mark.parametrize("count", [4, 6])
def test_nice_ticks_are_round_and_inside_the_range(low, high, count):
    ticks = fs.nice_ticks(low, high, count)
    assert 3 <= len(ticks) <= count + 1
    assert ticks[0] >= low - 1e-12 * abs(low) and ticks[-1] <= high + 1e-12 * abs(high)
    step = np.diff(ticks)
    np.testing.assert_allclose(step, step[0], rtol=1e-9)
    mantissa = step[0] / 10.0 ** np.floor(np.log10(step[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-9
    np.testing.assert_allclose(ticks / step[0], np.round(ticks / step[0]), atol=1e-9)  # multiples of the step


@pytest.mark.parametrize(("low", "high", "count", "expected"), [
    (0, 255, 6, [0, 50, 100, 150, 200, 250]),  # a uint8 axis
    (10000, 40000, 6, [10000, 15000, 20000, 25000, 30000, 35000, 40000]),  # 16-bit microscopy values
    (0, 5000, 4, [0, 2000, 4000]),  # a histogram's counts
    (-0.37, 0.81, 4, [-0.25, 0, 0.25, 0.5, 0.75]),  # three ticks at least, from a step of 2.5
])  # fmt: skip
def test_nice_ticks_worked_by_hand(low, high, count, expected):
    np.testing.assert_allclose(fs.nice_ticks(low, high, count), expected, atol=1e-12)


def test_nice_ticks_refuse_bad_ranges():
    with pytest.raises(ValueError, match="finite"):
        fs.nice_ticks(0, np.inf)
    with pytest.raises(ValueError, match="count"):
        fs.nice_ticks(0, 1, 1)
    np.testing.assert_array_equal(fs.nice_ticks(5, 5), [5.0])
    np.testing.assert_array_equal(fs.nice_ticks(40, 0), fs.nice_ticks(0, 40))


def test_tick_labels_have_the_decimals_their_step_needs():
    assert fs.tick_labels([10000, 20000, 30000]) == ["10000", "20000", "30000"]
    assert fs.tick_labels([0.25, 0.5, 0.75]) == ["0.25", "0.50", "0.75"]
    assert fs.tick_labels([0.2, 0.4]) == ["0.2", "0.4"]
    assert fs.tick_labels([-2.5, 0.0, 2.5]) == ["-2.5", "0.0", "2.5"]


@pytest.mark.parametrize("up", [True, False])
def test_plot_frame_lies_next_to_the_data_far_from_the_origin(up):
    rng = np.random.default_rng(0)
    coords = rng.uniform([12000, 20000], [38000, 36000], (500, 2))  # rows: y feature, columns: x feature
    frame = fs.plot_frame(coords, ("GFP (0–65535)", "Cy5 (0–65535)"), up=up)
    x_axis, y_axis = frame.lines[0], frame.lines[1]
    low, high = coords.min(axis=0), coords.max(axis=0)
    extent = (high - low).max()
    # The x axis is horizontal, just beyond the data's bottom edge on screen; the y axis vertical, just left of them.
    assert x_axis[0, 0] == x_axis[1, 0] and y_axis[0, 1] == y_axis[1, 1]
    bottom = low[0] if up else high[0]
    assert 0 < abs(x_axis[0, 0] - bottom) < 0.1 * extent and (x_axis[0, 0] < low[0]) == up
    assert 0 < low[1] - y_axis[0, 1] < 0.1 * extent
    assert x_axis[:, 1].min() < low[1] and x_axis[:, 1].max() > high[1]  # spanning the data
    assert y_axis[:, 0].min() < low[0] and y_axis[:, 0].max() > high[0]
    # Tick texts are the values at their ticks, every text near the data; the names come last.
    assert frame.texts[-2:] == ["GFP (0–65535)", "Cy5 (0–65535)"]
    values = [float(t) for t in frame.texts[:-2]]
    ticks = frame.lines[2:]
    assert len(ticks) == len(values)
    for tick, value in zip(ticks, values, strict=True):
        vertical = tick[0, 1] == tick[1, 1]  # an x tick
        assert (tick[0, 1] if vertical else tick[0, 0]) == pytest.approx(value)
    assert np.abs(frame.positions - (low + high) / 2).max() < extent
    assert frame.positions.shape == (len(frame.texts), 2)


def test_plot_frame_refuses_what_it_cannot_draw():
    with pytest.raises(ValueError, match="coords"):
        fs.plot_frame(np.zeros((0, 2)), ("x", "y"))
    with pytest.raises(ValueError, match="names"):
        fs.plot_frame(np.zeros((3, 2)), ("x",))


@pytest.mark.parametrize("scale", [1.0, 255.0, 65535.0, 1e-3])
def test_point_size_is_the_same_part_of_the_plot_at_any_data_range(scale):
    rng = np.random.default_rng(1)
    coords = rng.uniform(0.2, 0.6, (1000, 2)) * scale
    extent = np.ptp(coords, axis=0).max()
    assert fs.point_size(coords) == pytest.approx(fs.POINT_FRACTION * extent)
    assert fs.point_size(coords[:1]) == 1.0  # one point: any size shows it


@pytest.mark.parametrize("canvas", [(475, 256), (811, 736), (300, 1200)])
def test_fitted_plot_puts_every_text_and_tick_inside_the_canvas(canvas):
    coords = np.array([[10000.0, 12000.0], [40000.0, 38000.0]])
    spec = {"coords": coords, "names": ["GFP (0–65535)", "Cy5 (0–65535)"], "up": True, "y_ticks": None}
    frame, centre, zoom = fs.fitted_plot(spec, lambda texts: [(11.0 * len(t), 17.0) for t in texts], canvas)
    # Where each box lands on screen (pixels from the canvas's top-left corner); rows grow up the screen.
    screen_row = (centre[0] - frame.anchors[:, 0]) * zoom + canvas[0] / 2
    screen_col = (frame.anchors[:, 1] - centre[1]) * zoom + canvas[1] / 2
    top, bottom = screen_row + frame.boxes[:, 0], screen_row + frame.boxes[:, 1]
    left, right = screen_col + frame.boxes[:, 2], screen_col + frame.boxes[:, 3]
    assert top.min() >= -1e-6 and left.min() >= -1e-6, (top.min(), left.min())
    assert bottom.max() <= canvas[0] + 1e-6 and right.max() <= canvas[1] + 1e-6
    assert min(top.min(), left.min(), canvas[0] - bottom.max(), canvas[1] - right.max()) < fs.BORDER_PIXELS + 1
    # The texts' centres are their boxes' centres at that zoom, and neighbouring x values do not overlap.
    n = len(frame.texts)
    np.testing.assert_allclose(frame.positions[:, 1], frame.anchors[:n, 1] + (left + right)[:n] / 2 / zoom
                               - screen_col[:n] / zoom, rtol=1e-9)  # fmt: skip
    x = screen_col[: frame.n_x]
    assert (np.diff(x) >= 11.0 * 5).all()


def test_origin_is_near_a_colour_cloud_and_far_from_a_16_bit_one():
    rng = np.random.default_rng(2)
    assert fs.origin_near(rng.uniform(0, 255, (500, 3)))  # 8-bit RGB: the origin is the black corner
    assert fs.origin_near(rng.uniform(30, 200, (500, 3)))  # within a quarter of the extent
    assert not fs.origin_near(rng.uniform(10000, 40000, (500, 3)))  # 16-bit microscopy values
    assert fs.origin_near(np.zeros((0, 3)))


def test_cloud_frame_runs_along_the_data_from_its_low_corner():
    rng = np.random.default_rng(4)
    coords = rng.uniform([12000, 15000, 14000], [38000, 36000, 30000], (800, 3))  # layer columns z, y, x
    frame = fs.cloud_frame(coords, ["z: GFP", "y: Cy5", "x: DAPI"])
    low, high, extent = coords.min(axis=0), coords.max(axis=0), np.ptp(coords, axis=0).max()
    corner = frame.lines[0][0]
    assert (corner < low).all() and (low - corner <= 0.05 * extent).all()
    for axis in range(3):  # each axis leaves the corner along its own column, past the data's high end
        line = frame.lines[axis]
        np.testing.assert_array_equal(line[0], corner)
        moved = np.flatnonzero(line[1] != line[0])
        assert list(moved) == [axis] and line[1, axis] > high[axis]
    values = [t for t in frame.texts if t.isdigit()]
    assert all(12000 <= float(v) <= 40000 for v in values) and len(values) >= 6  # y and x values (not z's)
    assert frame.texts.count("z: GFP") == 1 and frame.positions.shape == (len(frame.texts), 3)
    with pytest.raises(ValueError, match="coords"):
        fs.cloud_frame(np.zeros((4, 2)), ["a", "b", "c"])
