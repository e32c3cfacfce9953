"""Built-in sample images that work offline (shipped inside installed packages or this one)."""

from __future__ import annotations

import numpy as np

SAMPLES = {
    "china": "colour photo (scikit-learn's china.jpg, CC-BY 2.0)",
    "flower": "colour photo (scikit-learn's flower.jpg, CC-BY 2.0)",
    "plate": "grayscale licence plate crop (fast-plate-ocr test asset, package MIT)",
    "kidney": "3D 3-channel uint16 fluorescence stack, ZCYX (skimage kidney crop, CC0)",
}

#: Other names of the samples (the napari sample menu's keys), accepted everywhere a sample name is.
SAMPLE_ALIASES = {"photo": "china", "fluorescence": "kidney"}
#: Axis letters of the samples that have more than pixel axes (the CLI clusters their C axis as features).
SAMPLE_AXES = {"kidney": "ZCYX"}


def canonical_sample(name: str) -> str:
    """The sample's own name for ``name`` or one of its aliases.

    Parameters
    ----------
    name : str
        A sample's name or alias (``"photo"`` for ``"china"``).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name in SAMPLES:
        return name
    if name in SAMPLE_ALIASES:
        return SAMPLE_ALIASES[name]
    raise ValueError(f"unknown sample {name!r}; accepted: {', '.join([*SAMPLES, *SAMPLE_ALIASES])}")


def load_sample(name: str) -> np.ndarray:
    """Load a sample image by name (see ``SAMPLES``).

    Parameters
    ----------
    name : str
        A name or alias of :data:`SAMPLES`.

    Returns
    -------
    ndarray

    Raises
    ------
    ValueError
        For an unknown name.
    """
    from importlib import resources  # only when a sample is loaded: the CLI imports this module every run

    name = canonical_sample(name)
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    if name == "plate":
        from PIL import Image

        with resources.as_file(resources.files(__package__) / "data" / "plate.png") as path, Image.open(path) as im:
            return np.asarray(im.convert("L"))
    if name == "kidney":
        import tifffile

        with resources.as_file(resources.files(__package__) / "data" / "kidney_zcyx_u16.tif") as path:
            return tifffile.imread(path)
    raise ValueError(f"unknown sample {name!r}; accepted: {', '.join(SAMPLES)}")
