"""napari-colorquant: segment and colour-quantize images with k-means or EM.

The computation (this package's top level) never imports napari or Qt::

    import napari_colorquant as ncq
    result = ncq.quantize(image, 8)                      # k-means, 8 colours
    result = ncq.quantize(image, 3, method="em", color_space="ycrcb-chroma")
    result.labels, result.quantized, result.model, result.psnr
"""

from typing import Any

from .model import ClusterModel
from .pixels import DEFAULT_MAX_SAMPLES
from .quantize import QuantizeResult, apply_model, quantize

__version__ = "0.1.0"


def feature_explorer(viewer: Any) -> Any:
    """The feature-space explorer of a napari viewer (after a clustering run there; None before).

    It stays available while the user has closed its panel; the next run docks it again.

    Parameters
    ----------
    viewer : napari.Viewer

    Returns
    -------
    FeatureExplorer or None
        Has ``axis_names``, ``show_axes(i, j)``, ``select_polygon(vertices)``, ``select_clusters(labels)``,
        ``merge_clusters(labels)``, ``clusters_to_mask(labels)`` and ``selection_to_objects(min_size)``.
    """
    from ._napari.explorer import find_explorer  # napari is imported only when asked for

    return find_explorer(viewer)


__all__ = [
    "DEFAULT_MAX_SAMPLES",
    "ClusterModel",
    "QuantizeResult",
    "__version__",
    "apply_model",
    "feature_explorer",
    "quantize",
]
