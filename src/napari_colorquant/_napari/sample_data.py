"""napari sample data contributions (offline: images inside installed packages or this one)."""

from __future__ import annotations

from ..samples import load_sample


def colour_photo() -> list[tuple]:
    """scikit-learn's china.jpg: an RGB photo for the notebook's quantization exercises.

    Returns
    -------
    list of LayerDataTuple
        One RGB image layer.
    """
    return [(load_sample("china"), {"name": "china", "rgb": True}, "image")]


def flower_photo() -> list[tuple]:
    """scikit-learn's flower.jpg: a second RGB photo.

    Returns
    -------
    list of LayerDataTuple
        One RGB image layer.
    """
    return [(load_sample("flower"), {"name": "flower", "rgb": True}, "image")]


def licence_plate() -> list[tuple]:
    """A grayscale licence-plate crop, for binarization with K = 2.

    Returns
    -------
    list of LayerDataTuple
        One gray image layer.
    """
    return [(load_sample("plate"), {"name": "plate", "colormap": "gray"}, "image")]


def fluorescence_stack() -> list[tuple]:
    """A 3D 3-channel uint16 fluorescence stack (ZCYX), split into one layer per channel.

    Returns
    -------
    list of LayerDataTuple
        One image tuple that napari splits into three additive channel layers.
    """
    data = load_sample("kidney")
    meta = {
        "name": ["kidney ch0", "kidney ch1", "kidney ch2"],
        "channel_axis": 1,
        "colormap": ["magenta", "green", "cyan"],
        "blending": "additive",
    }
    return [(data, meta, "image")]
