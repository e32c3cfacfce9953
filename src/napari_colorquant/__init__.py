"""napari-colorquant: segment and colour-quantize images with k-means or EM.

The computation (this package's top level) never imports napari or Qt::

    import napari_colorquant as ncq
    result = ncq.quantize(image, 8)                      # k-means, 8 colours
    result = ncq.quantize(image, 3, method="em", color_space="ycrcb-chroma")
    result.labels, result.quantized, result.model, result.psnr
"""

from .model import ClusterModel
from .pixels import DEFAULT_MAX_SAMPLES
from .quantize import QuantizeResult, apply_model, quantize

__version__ = "0.1.0"

__all__ = ["DEFAULT_MAX_SAMPLES", "ClusterModel", "QuantizeResult", "__version__", "apply_model", "quantize"]
