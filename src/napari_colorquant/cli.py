"""Command line: quantize image files (or a built-in sample) and write labels, colours and the model.

    napari-colorquant photo.jpg -k 8 -o out/
    napari-colorquant --sample china -k 8 -o out/
    napari-colorquant *.tif -k 4 --method em --color-space ycrcb-chroma -o out/
    napari-colorquant photo.jpg -k auto --target-psnr 32 -o out/
    napari-colorquant scan.png -k 6 --fixed-color 255,255,255 -o out/
    napari-colorquant new.png --apply out/photo_model.json -o out2/
    napari-colorquant volume.zarr -k 4 -o out/ --scheduler tcp://127.0.0.1:8786

For each input ``NAME`` it writes ``NAME_labels.tif``, ``NAME_quantized.png``
(indexed, smallest bit depth, when the result fits a palette; otherwise a
PNG/TIFF of the input's dtype) and ``NAME_model.json``; TIFFs that carry the
input's OME or ImageJ axes as OME-XML are named ``.ome.tif``. Zarr inputs (and any
input with ``--lazy``) are processed chunk by chunk with dask and written as
``NAME_labels.zarr`` / ``NAME_quantized.zarr`` (OME-Zarr ``.ome.zarr`` images with
the input's axes, pixel sizes and channel names when its metadata gives them, and an OME-Zarr pyramid's levels,
each the model applied to that level), so they never need to fit in memory; ``--scheduler`` runs that on a
dask.distributed cluster. Files of an input are
written together or not at all. Exit status 1 if any input failed, 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import __version__
from ._loaded import keep_opencv_unloaded
from .files import (
    ZARR_SUFFIXES,
    ZarrOptions,
    can_write_indexed,
    label_display_colors,
    open_lazy,
    read_image,
    read_model,
    tiff_suffix,
    write_image,
    write_indexed_png,
    write_labels_tiff,
    write_model,
    write_zarr,
    zarr_store_suffix,
)
from .ome import AxesInfo, decide_channel_axis, output_axes, read_axes, read_levels
from .outputs import commit, plan_outputs, prepare_folder, remove_stale_staging, staging_folder
from .params import NOTEBOOK_CRITERIA, ClusterParameters, ParameterField
from .quantize import QuantizeResult, apply_model, quantize_with
from .report import report_text
from .samples import SAMPLE_ALIASES, SAMPLE_AXES, SAMPLES, canonical_sample, load_sample

#: How long to wait for a ``--scheduler`` to answer.
SCHEDULER_TIMEOUT = "10s"
#: Command-line spellings that differ from ``--name-with-dashes`` of a parameter.
_FLAGS = {"n_clusters": ("-k", "--clusters"), "fixed_colors": ("--fixed-color",)}
#: Command-line help that says more than the parameter's own (the CLI reads axes from file metadata).
_HELP = {
    "channel_axis": "axis holding channels, clustered as features (default: the C axis named by OME/ImageJ "
    "metadata; none: RGB if the last axis has 3 or 4 entries, else gray)",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; the clustering options are made from :class:`ClusterParameters`' fields.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="napari-colorquant",
        description="Segment and colour-quantize images with k-means or EM (Gaussian mixtures).",
    )
    parser.add_argument("inputs", nargs="*", type=_path, help="image files (PNG, JPEG, TIFF, OME-TIFF, zarr)")
    parser.add_argument(
        "--sample",
        choices=sorted({*SAMPLES, *SAMPLE_ALIASES}),
        help="use a built-in sample image instead of files (the same names as napari-colorquant-viewer's)",
    )
    parser.add_argument("-o", "--output", type=_path, required=True, help="output folder (created if missing)")
    for spec in ClusterParameters.fields():
        parser.add_argument(*_FLAGS.get(spec.name, (spec.flag,)), **_argument(spec))
    parser.add_argument(
        "--notebook-criteria",
        action="store_true",
        help="the course notebook's termination criteria: --max-iter 10 --epsilon 0.2 (fast, not converged; "
        "default: run to convergence)",
    )
    parser.add_argument("--apply", type=_path, metavar="MODEL.json", help="reuse a fitted model (same palette)")
    parser.add_argument(
        "--lazy",
        action="store_true",
        help="process TIFF inputs chunk by chunk (zarr always is); "
        "the outputs are then zarr stores (OME-Zarr, with the TIFF's axes and pixel sizes, when it has OME or "
        "ImageJ metadata)",
    )
    parser.add_argument("--scheduler", metavar="ADDRESS", help="address of a running dask.distributed scheduler")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: refuse)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _path(text: str) -> Path:
    """A path argument; an empty one (``-o "$OUT"`` with ``OUT`` unset) is refused, not read as the current folder."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; give a file or folder name ('.' for the current folder)")
    return Path(text)


def _argument(spec: ParameterField) -> dict:
    """``add_argument`` options of one parameter: its type (or text parser), default, choices and help."""
    default = spec.default
    shown = ",".join(str(v) for v in default) if isinstance(default, tuple) else default
    help_text = _HELP.get(spec.name, spec.help)
    if "default" not in help_text:
        help_text += f" (default {shown})" if default is not None else " (default: none)"
    options = dict(default=default, dest=spec.name, help=help_text, type=spec.type)
    if spec.words or spec.type is tuple:
        options["type"] = _parser_of(spec)
    if spec.metavar:
        options["metavar"] = spec.metavar
    if spec.repeat:
        options["action"] = "append"
    if spec.choices:
        options["choices"] = spec.choices
    return options


def _parser_of(spec: ParameterField):
    """argparse ``type``: the field's own text parser, its message shown as argparse's error."""

    def parse(text: str):
        try:
            return spec.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = spec.name
    return parse


def parameters_from(args: argparse.Namespace) -> ClusterParameters:
    """The validated clustering parameters of parsed arguments.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`build_parser`.

    Returns
    -------
    ClusterParameters

    Raises
    ------
    TypeError, ValueError
        A parameter is out of range (the message names it).
    """
    values = {spec.name: getattr(args, spec.name) for spec in ClusterParameters.fields()}
    if getattr(args, "notebook_criteria", False):
        values.update(NOTEBOOK_CRITERIA)
    try:
        return ClusterParameters(**values)
    except (TypeError, ValueError) as error:
        raise type(error)(_as_flags(str(error))) from None


def _as_flags(message: str) -> str:
    """A parameter's error in the command line's words: ``n_clusters must …`` → ``-k/--clusters must …``.

    ``name=value`` anywhere in the message (``n_clusters=3 is larger …``, ``use attempts=1``) becomes
    ``flag value``, and so does a name with an underscore anywhere (``color_space 'rgb'``, ``pass
    channel_axis``); a plain-word name only at the start (``method`` is also an ordinary word).
    """
    flags = {spec.name: "/".join(_FLAGS.get(spec.name, (spec.flag,))) for spec in ClusterParameters.fields()}
    names = "|".join(sorted(flags, key=len, reverse=True))
    message = re.sub(rf"\b({names})=", lambda match: flags[match.group(1)] + " ", message)
    compound = "|".join(sorted((name for name in flags if "_" in name), key=len, reverse=True))
    message = re.sub(rf"(?<![\w-])({compound})\b", lambda match: flags[match.group(1)], message)
    for name, flag in flags.items():
        if message.startswith((name + " ", name + ":")):
            return flag + message[len(name) :]
    return message


def _write_outputs(
    folder: Path, stem: str, result: QuantizeResult, lazy: bool, quiet: bool, axes: tuple = (None, None),
    coarser: tuple = ((), ()),
) -> list[Path]:  # fmt: skip
    """Labels, quantized image and model of one input; ``axes`` = the labels' and quantized image's AxesInfo.

    ``coarser`` = the labels' and quantized image's coarser pyramid levels (lazy), for an OME-Zarr pyramid input.
    """
    if lazy:
        written = []
        outputs = (("labels", result.labels, axes[0], coarser[0]), ("quantized", result.quantized, axes[1], coarser[1]))
        with _progress_bar(quiet):
            for kind, data, info, levels in outputs:
                suffix = zarr_store_suffix(tuple(data.shape), info)  # OME-Zarr when the input's axes are known
                colors = label_display_colors(result.model) if kind == "labels" else None
                path = folder / f"{stem}_{kind}{suffix}"
                levels = levels if suffix == ".ome.zarr" else ()  # a plain zarr array has one level
                labelled = kind == "labels"
                options = ZarrOptions(info, labels=labelled, label_colors=colors, levels=levels)
                written.append(write_zarr(path, data, options))
    else:
        labels_name = f"{stem}_labels{tiff_suffix(result.labels.ndim, axes[0])}"  # .ome.tif with OME-XML
        written = [write_labels_tiff(folder / labels_name, result.labels, axes[0])]
        indexed = result.labels if result.dithered_labels is None else result.dithered_labels
        if can_write_indexed(result.model, indexed):
            written.append(write_indexed_png(folder / f"{stem}_quantized.png", indexed, result.model))
        else:
            pngable = result.quantized.ndim == 2 or (
                result.quantized.ndim == 3 and result.quantized.shape[-1] in (3, 4)
            )
            png = pngable and result.quantized.dtype in (np.uint8, np.bool_)  # a bool image: a 1-bit PNG
            suffix = ".png" if png else tiff_suffix(result.quantized.ndim, axes[1])
            written.append(write_image(folder / f"{stem}_quantized{suffix}", result.quantized, axes[1]))
    written.append(write_model(folder / f"{stem}_model.json", result.model))
    return written


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _progress_bar(quiet: bool):
    """dask's text progress bar for long chunked work (local schedulers; a no-op when quiet)."""
    if quiet:
        return contextlib.nullcontext()
    from dask.diagnostics import ProgressBar

    return ProgressBar(minimum=2.0, dt=0.5)


def _load(source, lazy: bool):
    if isinstance(source, str):
        return load_sample(source)
    if lazy or source.suffix.lower() in ZARR_SUFFIXES:
        return open_lazy(source)
    return read_image(source)


def _axes_info(source, image) -> AxesInfo | None:
    """What the file's metadata (or a sample's known layout) says about its axes."""
    if isinstance(source, str):
        axes = SAMPLE_AXES.get(canonical_sample(source))
        return AxesInfo(axes, tuple(image.shape), "the sample's axes") if axes else None
    return read_axes(source)


def _describe(result: QuantizeResult, applied: bool) -> str:
    return report_text(result.summary(), applied=applied, one_line=True)


def run(args: argparse.Namespace) -> int:
    """Process every input; returns the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (:func:`build_parser`), their parameters already checked.

    Returns
    -------
    int
        0, or 1 when an input failed.

    Raises
    ------
    ValueError
        For problems found before any input is processed (names that collide, existing
        outputs, an output folder that cannot be written, an unreadable model).
    """
    jobs: list[tuple[str, object]] = [(str(path), path) for path in args.inputs]
    names = [(str(path), path.name) for path in args.inputs]
    if args.sample:
        jobs.append((args.sample, args.sample))
        names.append((f"--sample {args.sample}", args.sample))
    if not jobs:
        print("napari-colorquant: error: give input files or --sample NAME", file=sys.stderr)
        return 2
    overwrite = bool(getattr(args, "overwrite", False))
    protected = [*args.inputs, *([Path(args.apply)] if args.apply else [])]
    stems = plan_outputs(names, args.output, overwrite, protected)
    try:
        args.parameters = parameters_from(args)
    except TypeError as error:
        raise ValueError(str(error)) from error
    model = read_model(args.apply) if args.apply else None
    prepare_folder(args.output)
    remove_stale_staging(args.output)
    with _scheduler(args.scheduler), staging_folder(args.output) as staging:
        failures = 0
        for number, ((name, source), stem) in enumerate(zip(jobs, stems, strict=True), start=1):
            failures += _process(args, model, (number, len(jobs)), name, source, stem, staging)
    return 1 if failures else 0


def _scheduler(address: str | None):
    if not address:
        return contextlib.nullcontext()
    try:
        from distributed import Client
    except ImportError as error:
        raise ValueError("--scheduler needs the 'distributed' package (pip install distributed)") from error
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except OSError as error:
        raise ValueError(
            f"cannot reach the dask scheduler at {address}: {error}; start one with `dask scheduler` (and workers "
            "with `dask worker ADDRESS`), or leave out --scheduler to run on this machine"
        ) from error


def _process(args, model, position: tuple[int, int], name: str, source, stem: str, staging: Path) -> int:
    """Quantize one input and move its outputs into place together; returns 1 on failure."""
    number, total = position
    start = time.perf_counter()
    work = staging / str(number)
    try:
        image = _load(source, args.lazy)
        info = _axes_info(source, image)
        channel_axis, decision = decide_channel_axis(info, args.channel_axis, args.color_space, tuple(image.shape))
        if decision and not args.quiet:
            print(f"[{number}/{total}] {name}: {decision}")
        names = _channel_names(info, channel_axis)
        if model is not None:
            _check_channel_names(model, names, f"[{number}/{total}] {name}")
            result = apply_model(model, image, channel_axis=channel_axis, data_range=args.parameters.data_range)
        else:
            with _Ticker(f"[{number}/{total}] {name}", args.parameters.is_auto, args.quiet) as ticker:
                result = quantize_with(image, args.parameters.replace(channel_axis=channel_axis), progress=ticker)
            if names:  # recorded so that --apply can tell a file whose channels come in another order
                result.model = dataclasses.replace(result.model, params={**result.model.params, "channel_names": names})
        lazy = not isinstance(result.labels, np.ndarray)  # the front door kept chunked input chunked
        work.mkdir()
        shapes = (tuple(result.labels.shape), tuple(result.quantized.shape))
        axes = tuple(output_axes(info, shape, tuple(image.shape), channel_axis) for shape in shapes)
        smoothing = args.parameters.smoothing if model is None else 0.0
        coarser = _coarser_levels(source, info, result.model, channel_axis, smoothing) if lazy else ((), ())
        staged = _write_outputs(work, stem, result, lazy, args.quiet, axes, coarser)
        backup = work / ".replaced"
        backup.mkdir()
        with _signals_deferred():
            commit(staged, args.output, backup, bool(getattr(args, "overwrite", False)))
        if not args.quiet:
            elapsed = time.perf_counter() - start
            summary = _describe(result, model is not None)
            print(f"[{number}/{total}] {name}: {summary}; wrote {len(staged)} outputs ({elapsed:.2f} s)")
            if result.k_curve is not None and model is None:
                print("\n".join(f"    {line}" for line in result.k_curve.lines()))
        return 0
    except (ValueError, TypeError, OSError) as error:
        print(f"[{number}/{total}] {name}: error: {_message(error)}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _coarser_levels(source, info: AxesInfo | None, model, channel_axis: int | None, smoothing: float) -> tuple:
    """The lazy labels and quantized images of an OME-Zarr pyramid's levels after the finest (which was clustered).

    Each is the model applied to that level (:func:`napari_colorquant.lazy.label_levels` says why that is
    exact), so the outputs are pyramids with the input's levels and placements. ``((), ())`` for other inputs.
    """
    if info is None or len(info.levels) < 2 or isinstance(source, str):
        return (), ()
    from .lazy import label_levels

    levels = read_levels(source)[1:]
    return label_levels(model, levels, channel_axis=channel_axis, smoothing=smoothing)


class _Ticker:
    """A one-line "still working" note on an interactive stderr for fits that take more than a few seconds.

    Without it a 6 MP photo with ``-k auto`` (a full fit per K) sat silent for 13 s. The line is
    rewritten in place (carriage return) and erased when the fit ends; nothing is written to a
    file or pipe, or with ``--quiet``.
    """

    #: Seconds of silence before the first note.
    DELAY = 2.0

    def __init__(self, prefix: str, auto: bool, quiet: bool) -> None:
        self.prefix, self.auto = prefix, auto
        self.active = not quiet and _interactive()
        self.start = self.last = time.perf_counter()
        self.width, self.stage = 0, ""

    def __enter__(self) -> _Ticker:
        return self

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        if not self.active or now - self.start < self.DELAY:
            return
        if self.width and stage == self.stage and now - self.last < 0.5:
            return  # a new stage shows at once, progress within one at most twice a second
        fitting = "fitting every K of the range" if self.auto else "fitting"
        what = {"count": "counting values", "fit": fitting}.get(stage, "labelling the pixels")
        done = f", {fraction:.0%} of the K range" if self.auto and stage == "fit" else ""
        text = f"{self.prefix}: {what}… {now - self.start:.0f} s{done}"
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()
        self.width, self.last, self.stage = max(self.width, len(text)), now, stage

    def __exit__(self, *exc) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def _interactive() -> bool:
    return sys.stderr.isatty()


def _channel_names(info: AxesInfo | None, channel_axis: int | None) -> list[str]:
    """The names of the channels clustered as features, when the file's metadata gives them."""
    if info is None or channel_axis is None or info.channel_axis is None or not info.channel_names:
        return []
    if channel_axis % len(info.shape) != info.channel_axis:
        return []
    return list(info.channel_names)


def _check_channel_names(model, names: list[str], where: str) -> None:
    """Warn when a model fitted on named channels is applied to a file whose channels are named otherwise.

    A model's features are positional: the same stains in another order would be labelled silently wrong.
    """
    fitted = model.params.get("channel_names")
    if not fitted or not names or list(fitted) == names:
        return
    order = " (the same channels in another order)" if sorted(fitted) == sorted(names) else ""
    print(
        f"{where}: warning: the model was fitted on channels [{', '.join(map(str, fitted))}], this file has "
        f"[{', '.join(names)}]{order}; features are taken by position",
        file=sys.stderr,
    )


def _message(error: Exception) -> str:
    """One line for an error; file-system errors say what happened, not the staging path."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror} while writing the outputs; nothing was written for this input"
    return _as_flags(str(error))


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; unwinds the run so that its staging folder is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_deferred: dict[str, object] = {"active": False, "pending": None}


def _on_signal(signum, frame) -> None:
    # Further signals are ignored so that the cleanup the first one starts cannot itself be cut short.
    for number in _SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    if _deferred["active"]:
        _deferred["pending"] = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while outputs are moved into place, so a group is placed whole or not at all."""
    _deferred["active"] = True
    try:
        yield
    finally:
        _deferred["active"] = False
        pending = _deferred["pending"]
        if pending is not None:
            _deferred["pending"] = None
            raise Interrupted(pending)


@contextlib.contextmanager
def _signal_handlers():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _on_signal) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


#: Options that only matter when fitting; ``--apply`` reuses a fitted model's own (the channel axis and the PSNR
#: peak are the file's and the report's, so they apply too).
FIT_OPTIONS = (
    *(spec.name for spec in ClusterParameters.fields() if spec.name not in ("channel_axis", "data_range")),
    "notebook_criteria",
)


def _ignored_with_apply(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The fitting options given together with ``--apply`` (which ignores them), as ``"-k, --method"``."""
    if not args.apply:
        return ""
    flags = {action.dest: action.option_strings[0] for action in parser._actions if action.option_strings}
    return ", ".join(flags[d] for d in FIT_OPTIONS if d in flags and getattr(args, d) != parser.get_default(d))


#: Modules a run imports only when it gets there (k-means++ draws, writing the labels TIFF, the PNG codec):
#: imported in a thread while the main thread reads and counts the image, in the order the run needs them.
#: OpenCV only for several inputs: one small photo's run does without it (:mod:`napari_colorquant._loaded`),
#: and a step that needs it (large images) imports it.
_LATE_IMPORTS = ("numpy.random", "tifffile", "PIL.PngImagePlugin")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc mallopt parameters (malloc.h)


def _prepare_process(n_inputs: int) -> None:
    """One-time costs of a CLI process, paid while there is other work, or not at all.

    The CLI owns its process (the library leaves its host's allocator and collector alone):

    - glibc returns every freed buffer above 128 KiB to the system and page-faults it in again on the next
      allocation, which in a short run costs as much as the imports. Keeping freed memory for reuse halves
      the first run's page faults. One malloc arena for all threads: the pool's threads then reuse memory
      the main thread has already touched instead of faulting in arenas of their own (a 0.27 MP photo's run:
      ~1 800 page faults and ~10 ms CPU fewer; the few allocations per chunk hardly contend for it).
    - The modules a run needs only later are imported in a background thread meanwhile. OpenCV, whose import
      costs more than its kernels save on one small photo, is left out for a single input and used only if
      a step needs it (:func:`napari_colorquant._loaded.keep_opencv_unloaded`).
    - The objects made by the imports live as long as the process: frozen (``gc.freeze``), the cyclic
      collector no longer walks them on every full collection of the run and once more at exit (~20 ms of
      a 0.27 MP photo's run). Cycles made by the run itself are still collected.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)
            libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20)
            libc.mallopt(_M_ARENA_MAX, 1)
    gc.freeze()
    if n_inputs <= 1:
        keep_opencv_unloaded()
    modules = _LATE_IMPORTS if n_inputs <= 1 else ("cv2", *_LATE_IMPORTS)
    threading.Thread(target=_import_late, args=(modules,), name="napari-colorquant imports", daemon=True).start()


def _import_late(modules: Sequence[str]) -> None:
    import importlib

    for name in modules:
        with contextlib.suppress(ImportError):  # the step that needs it says what is missing
            importlib.import_module(name)
    gc.freeze()  # the modules just imported live as long as the process too


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``napari-colorquant`` and ``python -m napari_colorquant``.

    Exit status: 0 success, 1 an input failed, 2 bad arguments, 130 / 143 interrupted by
    SIGINT / SIGTERM (partial outputs removed).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if argv is None:  # the process's own command line: this process is the CLI's (not a script calling main)
            _prepare_process(len(args.inputs) + bool(args.sample))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers are in place: nothing has been written yet
        print("napari-colorquant: interrupted by SIGINT before starting; nothing was written", file=sys.stderr)
        return 130
    ignored = _ignored_with_apply(parser, args)
    if ignored:
        print(f"napari-colorquant: --apply reuses the model's own parameters; ignoring {ignored}", file=sys.stderr)
    try:
        with _signal_handlers():
            return run(args)
    except ValueError as error:
        print(f"napari-colorquant: error: {error}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt) as interruption:
        signum = getattr(interruption, "signum", signal.SIGINT)
        print(
            f"napari-colorquant: interrupted by {signal.Signals(signum).name}; partial outputs removed, "
            "finished inputs kept",
            file=sys.stderr,
        )
        return 128 + int(signum)


if __name__ == "__main__":
    sys.exit(main())
