"""Human-readable run reports, one wording for the CLI and the napari widget.

Both format :meth:`QuantizeResult.summary` (the same dict the output layers carry
in their metadata), so a figure never reads differently in two places.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .colorspaces import CHROMA_SPACES
from .methods import get_method


def report_lines(summary: Mapping[str, Any], *, applied: bool = False, seconds: float | None = None) -> list[str]:
    """The lines of a run report.

    Parameters
    ----------
    summary : mapping
        :meth:`QuantizeResult.summary` of the run.
    applied : bool
        The model was fitted earlier and only applied to this image.
    seconds : float, optional
        Wall time to report instead of ``summary["seconds"]``.

    Returns
    -------
    list of str
        Headline (method, K, colour space), fit figures, quality figures, pixels and time.
    """
    s = summary
    lines = [f"{s['method']} K={s['n_clusters']} {s['color_space']}"]
    if applied:
        lines.append("applied a previously fitted model")
    else:
        converged = {True: "converged", False: "not converged", None: "n/a"}[s.get("converged")]
        if s.get("k_chosen_by"):
            unmet = "" if s.get("k_target_met", True) else ", target not reached in the range"
            if s.get("k_at_range_top"):
                unmet = "; lowest at the top of the K range: try a wider K range, or a target PSNR / ΔE"
            lines.append(f"K chosen automatically ({s['k_chosen_by']}{unmet})")
        if s.get("n_iter") is None:  # cv2.kmeans and cv2.ml.EM do not say how many iterations they ran
            lines.append("iterations: not reported by OpenCV")
        else:
            lines.append(f"iterations: {s['n_iter']} ({converged})")
        lines.extend(get_method(s["method"]).report_lines(s))
        if s.get("fitted_on_slice"):
            lines.append(f"fitted on slice {s['fitted_on_slice']}")
        if s.get("fitted_on_frames"):
            lines.append(f"fitted on frames: {s['fitted_on_frames']}")
    quality = f"MSE: {s['mse']:.4g} · PSNR: {s['psnr']:.2f} dB"
    if s.get("psnr_peak") == s.get("psnr_peak"):  # not NaN: the peak is known
        quality += f" (peak {s['psnr_peak']:g}: {s.get('psnr_peak_is') or 'given'})"
    if s.get("delta_e") is not None and s["delta_e"] == s["delta_e"]:  # not NaN: a gray or colour image
        quality += f" · ΔE00: {s['delta_e']:.2f} (95 %: {s['delta_e95']:.2f})"
    lines.append(quality)
    if s.get("smoothing_changed") is not None:
        lines.append(f"smoothing changed {s['smoothing_changed']} pixel labels")
    chroma = " (incl. kept luminance)" if s["color_space"] in CHROMA_SPACES else ""
    lines.append(
        f"{s['bits_per_pixel']} bits/pixel{chroma} vs {s['input_bits_per_pixel']} · "
        f"compression x{s['compression_ratio']:.3g}"
    )
    if s.get("approximate"):
        lines.append(f"fitted on a sample of {s.get('n_fit_pixels', '?')} pixels")
    valid = "unknown" if s["n_valid"] < 0 else str(s["n_valid"])
    time = s["seconds"] if seconds is None else seconds
    lines.append(f"pixels: {valid} of {s['n_pixels']} · time: {time:.3f} s")
    return lines


def report_text(summary: Mapping[str, Any], *, applied: bool = False, seconds: float | None = None,
                one_line: bool = False) -> str:  # fmt: skip
    """A run report as text: one line per figure, or (``one_line``) ``"headline: figure, figure, …"``.

    Parameters
    ----------
    summary, applied, seconds
        As for :func:`report_lines`.
    one_line : bool
        One line, for a terminal.

    Returns
    -------
    str
    """
    lines = report_lines(summary, applied=applied, seconds=seconds)
    if one_line:
        return lines[0] + ": " + ", ".join(lines[1:])
    return "\n".join(lines)
