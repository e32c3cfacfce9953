"""Choosing the number of clusters K automatically (``n_clusters="auto"``).

The sweep fits K = k_min..k_max on the **same counted values** (distinct
pixel values weighted by their counts), so it costs a few weighted fits, not
one image pass per K. Which K is chosen:

* **EM**: the K of least BIC (Schwarz 1978), the mixture's own criterion.
* **k-means with a quality target**: the smallest K whose result reaches
  ``target_psnr`` (PSNR in dB at least that) or ``target_delta_e`` (mean
  CIEDE2000 ΔE at most that), as pngquant's ``--quality`` does; the sweep stops
  there. If no K in the range reaches the target, the largest K is used and
  ``KCurve.target_met`` is False.
* **k-means by default**: the K of least BIC of the Gaussian mixture k-means
  fits implicitly (hard assignments, mixing proportions ``n_k / N``, one
  spherical variance ``sigma^2 = inertia / (N F)`` shared by all clusters),
  with ``K - 1 + K F + 1`` free parameters: the X-means criterion of Pelleg &
  Moore (2000). It recovers K on data that are a mixture of compact classes
  (stained tissue, labelled cells); on natural photographs, which are not, it
  tends to prefer the largest K in the range, so give a quality target there.

``N`` is the number of pixels fitted (the sum of the counts).

References
----------
.. [1] G. Schwarz, "Estimating the dimension of a model", Ann. Statist. 6(2),
   461-464, 1978.
.. [2] D. Pelleg and A. Moore, "X-means: Extending K-means with efficient
   estimation of the number of clusters", Proc. ICML 2000, 727-734.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_K_RANGE = (2, 16)


@dataclass
class KCurve:
    """What the sweep tried and why it chose its K.

    Attributes
    ----------
    criterion : str
        ``"bic"``, ``"psnr"`` or ``"delta_e"``.
    ks : list of int
        K values fitted (a target sweep stops at the first K reaching it).
    values : list of float
        The criterion at each K.
    chosen : int
    target : float or None
    target_met : bool
    """

    criterion: str
    ks: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    chosen: int = 0
    target: float | None = None
    target_met: bool = True

    def to_dict(self) -> dict:
        """JSON-able record (non-finite values as None).

        Returns
        -------
        dict
            ``criterion``, ``ks``, ``values``, ``chosen``, ``target`` and ``target_met``.
        """
        return dict(
            criterion=self.criterion,
            ks=[int(k) for k in self.ks],
            values=[float(v) if math.isfinite(v) else None for v in self.values],
            chosen=int(self.chosen),
            target=self.target,
            target_met=bool(self.target_met),
        )

    def lines(self) -> list[str]:
        """One text line per K for the CLI and the widget; the chosen K is marked.

        Returns
        -------
        list of str
        """
        # The criterion's name right-aligned over its column of values, as they are.
        head = f"{'K':<3}{self.criterion:>12}"
        head += f" (target {self.target:g})" if self.target is not None else " (lowest wins)"
        rows = [
            f"{k:<3d}{v:12.6g}{'  <- chosen' if k == self.chosen else ''}"
            for k, v in zip(self.ks, self.values, strict=True)
        ]
        if not self.target_met:
            rows.append(f"target not reached up to K = {self.ks[-1]}; using K = {self.chosen}")
        return [head, *rows]


def check_k_range(k_range: Sequence[int]) -> tuple[int, int]:
    """Validate ``k_range=(k_min, k_max)`` with 1 <= k_min <= k_max.

    Parameters
    ----------
    k_range : (int, int)
        The smallest and largest K to try.

    Returns
    -------
    (int, int)
        ``(k_min, k_max)`` as Python ints.

    Raises
    ------
    ValueError
        Naming ``k_range`` and what is accepted.
    """
    try:
        low, high = (int(k) for k in k_range)
        ok = all(float(k) == int(k) and not isinstance(k, bool) for k in k_range) and 1 <= low <= high
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"k_range must be two integers (k_min, k_max) with 1 <= k_min <= k_max, got {k_range!r}")
    return low, high


def kmeans_bic(inertia: float, cluster_mass: np.ndarray, n_features: int) -> float:
    """BIC of the spherical, shared-variance Gaussian mixture a k-means fit implies (lower is better).

    Parameters
    ----------
    inertia : float
        Weighted sum of squared distances to the nearest centre.
    cluster_mass : ndarray (K,)
        Pixels (summed weights) in each cluster.
    n_features : int
        F.

    Returns
    -------
    float
        ``-2 log L + p log n`` with ``p = K F + 1 + (K - 1)`` free parameters and ``n`` pixels.

    References
    ----------
    Pelleg, D. and Moore, A. (2000). X-means: extending k-means with efficient estimation of the number of
    clusters. Proc. 17th International Conference on Machine Learning, 727-734.
    """
    mass = np.asarray(cluster_mass, np.float64)
    n = float(mass.sum())
    k = mass.size
    variance = max(inertia / (n * n_features), 1e-300)
    filled = mass[mass > 0]
    log_likelihood = float(filled @ np.log(filled / n)) - 0.5 * n * n_features * (math.log(2 * math.pi * variance) + 1)
    n_parameters = (k - 1) + k * n_features + 1
    return -2.0 * log_likelihood + n_parameters * math.log(n)


def sweep(
    fit: Callable[[int], object],
    score: Callable[[object], float],
    k_range: tuple[int, int],
    criterion: str,
    target: float | None = None,
    on_k: Callable[[int, int], None] | None = None,
) -> tuple[object, KCurve]:
    """Fit each K in ``k_range`` and choose one.

    Parameters
    ----------
    fit : callable
        ``fit(k)`` returns a fitted result (e.g. a model) for K = k.
    score : callable
        ``score(result)`` is the criterion for that result.
    k_range : (int, int)
    criterion : {"bic", "psnr", "delta_e"}
        ``bic``: lowest wins. ``psnr``: first K with score >= target.
        ``delta_e``: first K with score <= target.
    target : float, optional
        Required for ``psnr`` and ``delta_e``.
    on_k : callable, optional
        ``on_k(done, total)`` after each K (may raise to abort).

    Returns
    -------
    best : object
        The chosen K's fitted result.
    curve : KCurve
    """
    low, high = check_k_range(k_range)
    if criterion not in ("bic", "psnr", "delta_e"):
        raise ValueError(f"unknown criterion {criterion!r}; accepted: 'bic', 'psnr', 'delta_e'")
    if criterion != "bic" and (target is None or not math.isfinite(target)):
        raise ValueError(f"a {criterion} target needs a finite number, got {target!r}")
    curve = KCurve(criterion=criterion, target=None if criterion == "bic" else float(target))
    best, best_value = None, math.inf
    for k in range(low, high + 1):
        result = fit(k)
        value = float(score(result))
        curve.ks.append(k)
        curve.values.append(value)
        if on_k is not None:
            on_k(k - low + 1, high - low + 1)
        if criterion == "bic":
            if value < best_value:
                best, best_value, curve.chosen = result, value, k
            continue
        best, curve.chosen = result, k
        if (value >= target) if criterion == "psnr" else (value <= target):
            return best, curve
    curve.target_met = criterion == "bic"
    return best, curve
