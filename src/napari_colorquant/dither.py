"""Floyd–Steinberg dithering over a fitted palette, by Pillow.

Plain quantization replaces each pixel by its nearest palette colour, which
turns smooth gradients into flat bands. Error diffusion (Floyd & Steinberg
1976) instead pushes each pixel's rounding error onto its not-yet-visited
neighbours, so that local averages of the rendered image follow the input
while every pixel still takes a palette colour.

The diffusion is Pillow's ``Image.quantize(palette=..., dither=FLOYDSTEINBERG)``;
nothing here re-implements it. Pillow works on 8-bit RGB planes, so dithering
is offered for **uint8 gray and uint8 RGB/RGBA** images quantized in a space
whose palette is a fixed set of colours (not the chroma-only spaces, where each
pixel keeps its own luminance) with at most 256 clusters; nD stacks are
dithered plane by plane (the last two spatial axes). Everything else raises a
``ValueError`` saying so. The cluster labels are not dithered: they stay the
nearest-centre labels; the dithered palette indices are returned separately
(for the rendered image and the indexed PNG).

References
----------
.. [1] R. W. Floyd and L. Steinberg, "An adaptive algorithm for spatial
   greyscale", Proc. Soc. Inf. Display 17(2), 75-77, 1976.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .pixels import ImageLayout

SUPPORTED = "uint8 gray or uint8 RGB/RGBA images (channels last) with at most 256 palette colours"
#: ``dither`` choices: no dithering, or Floyd–Steinberg error diffusion (Pillow).
DITHER_CHOICES = ("none", "floyd-steinberg")


def check_ditherable(dtype: np.dtype, n_channels: int, n_colours: int, chroma: bool) -> None:
    """Raise ``ValueError`` unless :func:`dither_image` can dither such an image.

    Parameters
    ----------
    dtype : numpy dtype
        The input image's dtype.
    n_channels : int
        Colour channels clustered (1 gray, 3 RGB; alpha excluded).
    n_colours : int
        Palette size K.
    chroma : bool
        The colour space keeps each pixel's luminance (no fixed palette).
    """
    if np.dtype(dtype) != np.uint8 or n_channels not in (1, 3):
        raise ValueError(f"dither: supported for {SUPPORTED}; got {np.dtype(dtype)} with {n_channels} channel(s)")
    if chroma:
        raise ValueError("dither: chroma-only colour spaces keep each pixel's luminance, so there is no fixed palette")
    if n_colours > 256:
        raise ValueError(f"dither: Pillow dithers over at most 256 colours, got {n_colours} clusters")


def _dither_plane(plane: np.ndarray, palette_image, lookup: np.ndarray) -> np.ndarray:
    from PIL import Image

    rgb = np.repeat(plane[..., None], 3, axis=-1) if plane.ndim == 2 else plane
    indexed = Image.fromarray(np.ascontiguousarray(rgb), mode="RGB").quantize(
        palette=palette_image, dither=Image.Dither.FLOYDSTEINBERG
    )
    return lookup[np.asarray(indexed)]


def dither_image(colours: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Floyd–Steinberg palette indices of a uint8 gray or RGB image.

    Parameters
    ----------
    colours : ndarray of uint8
        Gray ``(..., H, W)`` or RGB ``(..., H, W, 3)`` pixels (alpha removed).
    palette : ndarray (K, 1) or (K, 3) of uint8
        The palette colours (K at most 256).

    Returns
    -------
    ndarray of uint8, shape ``(..., H, W)``
        Index 0..K-1 of the palette colour each pixel is rendered with.

    Raises
    ------
    ValueError
        For anything other than uint8 gray/RGB with at most 256 colours.
    """
    from PIL import Image

    colours = np.asarray(colours)
    palette = np.asarray(palette)
    rgb = palette.ndim == 2 and palette.shape[1] == 3
    check_ditherable(colours.dtype, 3 if rgb else 1, palette.shape[0], chroma=False)
    if palette.dtype != np.uint8:
        raise ValueError(f"dither: the palette must be uint8, got {palette.dtype}")
    spatial_ndim = colours.ndim - (1 if rgb else 0)
    if spatial_ndim < 2:
        raise ValueError(f"dither: needs at least a 2-D image, got shape {colours.shape}")
    n_colours = palette.shape[0]
    entries = np.repeat(palette.reshape(n_colours, -1), 3 // palette.reshape(n_colours, -1).shape[1], axis=1)
    # Pillow always works with 256 entries: pad with copies of colour 0 and map them back to index 0.
    padded = np.concatenate([entries, np.repeat(entries[:1], 256 - n_colours, axis=0)])
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette(padded.reshape(-1).tolist())
    lookup = np.zeros(256, np.uint8)
    lookup[:n_colours] = np.arange(n_colours)
    plane_shape = colours.shape[spatial_ndim - 2 :]
    planes = colours.reshape((-1, *plane_shape))
    out = np.empty((planes.shape[0], *plane_shape[:2]), np.uint8)
    for i, plane in enumerate(planes):
        out[i] = _dither_plane(plane, palette_image, lookup)
    return out.reshape(colours.shape[:spatial_ndim])


def dither_labels(model: Any, array: np.ndarray, layout: ImageLayout, valid: np.ndarray | None = None) -> np.ndarray:
    """Dithered palette labels (1..K, 0 where not valid) of an image read with ``layout``.

    Parameters
    ----------
    model : ClusterModel
        Its palette is what the image is dithered to.
    array : ndarray
        The image (channels where ``layout.channel_axis`` says; alpha ignored).
    layout : ImageLayout
        How ``array``'s axes map to pixels and channels.
    valid : ndarray of bool, optional
        Flat (one per pixel) or in the pixel shape: pixels outside get label 0.
        They still take part in the error diffusion.

    Returns
    -------
    ndarray
        Of the model's label dtype, the image's pixel shape.

    Raises
    ------
    ValueError
        If the image or colour space cannot be dithered (see :data:`SUPPORTED`).

    References
    ----------
    Floyd, R. W. and Steinberg, L. (1976). An adaptive algorithm for spatial greyscale.
    Proceedings of the Society for Information Display, 17(2), 75-77.
    """
    chroma = model.color_space.endswith("-chroma")
    check_ditherable(layout.dtype, layout.n_channels, model.n_clusters, chroma)
    if model.color_space == "gray" and layout.n_channels > 1:
        raise ValueError("dither: clustering a colour image on its luma gives no fixed gray palette; use 'rgb'")
    pixels = array if layout.channel_axis is None else np.moveaxis(array, layout.channel_axis, -1)
    if layout.channel_axis is not None:
        pixels = pixels[..., : layout.n_channels]
    palette = np.clip(np.rint(model.palette), 0, 255).astype(np.uint8)
    labels = (dither_image(pixels, palette) + 1).astype(model.label_dtype)
    if valid is not None:
        labels[~np.asarray(valid).reshape(labels.shape)] = 0
    return labels
