"""Fit a clustering method on weighted distinct pixel values and assemble the :class:`ClusterModel`.

Both the in-memory path (:mod:`eager`) and the dask path (:mod:`lazy`) count the
image first and call :func:`fit_values` on what they counted, so the same values
and counts always give the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import colorspaces
from .methods import get_method
from .model import ClusterModel, FitOutcome, build_model
from .params import ClusterParameters
from .pixels import ImageLayout

Progress = Callable[[str, float], None]


def run_record(params: ClusterParameters, color_space: str, layout: ImageLayout, masked: bool, **extra) -> dict:
    """Every parameter of a run, JSON-able, as recorded in ``model.params``.

    Parameters
    ----------
    params : ClusterParameters
    color_space : str
        The resolved colour space (``"auto"`` replaced by what was used).
    layout : ImageLayout
        How the image was read (its channel axis is recorded).
    masked : bool
        A mask restricted the run.
    **extra
        Anything else to record (e.g. ``lazy=True``).

    Returns
    -------
    dict
    """
    return dict(params.to_dict(), color_space=color_space, channel_axis=layout.channel_axis, masked=masked, **extra)


def _count_distinct_rows(features: np.ndarray) -> int:
    if features.shape[1] == 1:
        return int(np.unique(features[:, 0]).size)
    rows = np.ascontiguousarray(features)
    return int(np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))).size)


def _distinct_features(features: np.ndarray, color_space: str, layout: ImageLayout) -> int:
    """Distinct feature rows; values are already distinct unless the space drops or merges channels."""
    space = colorspaces.get_color_space(color_space)
    one_to_one = not space.chroma and (space.n_features is None or space.n_features == layout.n_channels)
    return features.shape[0] if one_to_one else _count_distinct_rows(features)


def fit_values(
    values: np.ndarray,
    sample_weight: np.ndarray,
    layout: ImageLayout,
    color_space: str,
    params: ClusterParameters,
    record: dict[str, Any],
    progress: Progress | None = None,
    approximate: bool = False,
) -> tuple[ClusterModel, np.ndarray]:
    """Fit the chosen method on weighted distinct pixel values.

    Parameters
    ----------
    values : ndarray (U, C)
        Distinct pixel values in the input's units (alpha excluded).
    sample_weight : ndarray (U,)
        Their pixel counts.
    layout : ImageLayout
        How the values were read (see :func:`~napari_colorquant.pixels.describe_image`).
    color_space : str
        The resolved colour space.
    params : ClusterParameters
        The validated parameters.
    record : dict
        What the model records as its parameters (see :func:`run_record`).
    progress : callable, optional
        ``progress("fit", fraction)`` after each iteration.
    approximate : bool
        The values are a sample of the pixels (recorded in the model).

    Returns
    -------
    model : ClusterModel
    labels : ndarray (U,)
        Label (1..K) of each value.

    Raises
    ------
    ValueError
        When there are fewer distinct values than clusters, or the init array does not fit.
    """
    features = colorspaces.to_features(values, color_space, layout.scale, layout.offset)
    sample_weight = np.asarray(sample_weight, np.float64)
    n_clusters = params.n_clusters
    distinct = _distinct_features(features, color_space, layout)
    if n_clusters > distinct:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values "
            f"to cluster ({distinct}); use at most {distinct} clusters"
        )
    method = get_method(params.method)
    options = params.fit_options()
    total_steps = max(1, method.steps(options))
    on_step = None if progress is None else (lambda done: progress("fit", done / total_steps))
    clusters = method.fit(features, sample_weight, n_clusters, options, on_step)
    fit = FitOutcome(params.method, color_space, layout, values, sample_weight, clusters)
    model, rank = build_model(fit, record)
    model.approximate = approximate
    return model, rank[clusters.labels].astype(model.label_dtype)
