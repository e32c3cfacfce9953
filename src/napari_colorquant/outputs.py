"""Output files of a command-line run: their names, a staging folder, and moving them into place safely.

The promises (see ``docs/reliability.md``):

* every output name comes from the whole input file name minus its image suffix
  (``img.001.png`` → ``img.001``), and two inputs that would write the same
  output are refused before anything is written;
* an existing output is replaced only when the user asks (``overwrite``), and a
  folder standing at an output's name is never deleted unless it is a zarr store
  (what this tool writes there);
* outputs are written into a hidden staging folder ``.colorquant-<pid>-*`` in the
  output folder and moved into place together, without replacing a file another
  run put there meanwhile; staging folders left by a killed run are removed by the
  next run once their process is gone.

Hand-written because no library offers "place a group of files next to the user's
files, never clobbering or deleting anything that is not ours": ``os.link`` gives
the no-clobber move for files, ``os.rename`` for folders.
"""

from __future__ import annotations

import errno
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

IMAGE_SUFFIXES = (
    ".ome.tiff",
    ".ome.tif",
    ".ome.zarr",
    ".tiff",
    ".tif",
    ".png",
    ".jpeg",
    ".jpg",
    ".bmp",
    ".webp",
    ".zarr",
)
OUTPUT_SUFFIXES = ("_labels.tif", "_labels.ome.tif", "_labels.zarr", "_labels.ome.zarr", "_quantized.png",
                   "_quantized.tif", "_quantized.ome.tif", "_quantized.zarr", "_quantized.ome.zarr",
                   "_model.json")  # fmt: skip
STAGING_PREFIX = ".colorquant-"
# .colorquant-<pid>-<host>-<random>: mkdtemp's random part has no dash, a host name may.
_STAGING_NAME = re.compile(r"^\.colorquant-(\d+)-(?:(.+)-)?[a-z0-9_]+$")


def _host() -> str:
    # platform.node() is the host name (uname) and numpy has imported platform already; socket costs 3 ms.
    return re.sub(r"[^A-Za-z0-9.-]", "_", platform.node()) or "host"


def output_stem(name: str) -> str:
    """The output name for an input file name: the whole name minus its image suffix.

    ``img.001.png`` → ``img.001``, ``.hidden.png`` → ``.hidden``, ``cells.ome.tif`` → ``cells``;
    a name without a known image suffix is kept whole.

    Parameters
    ----------
    name : str
        The input's file name (no folder).

    Returns
    -------
    str
    """
    lower = name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def output_names(stem: str) -> tuple[str, ...]:
    """Every file or folder name a run may write for ``stem``.

    Parameters
    ----------
    stem : str
        From :func:`output_stem`.

    Returns
    -------
    tuple of str
        ``<stem>_labels.tif``, ``<stem>_quantized.png``, ``<stem>_model.json``, the zarr stores, etc.
    """
    return tuple(stem + suffix for suffix in OUTPUT_SUFFIXES)


def is_zarr_store(path: Path) -> bool:
    """True for a folder holding zarr (v2 or v3) metadata at its top.

    Parameters
    ----------
    path : Path
        A folder (or anything else, which gives False).

    Returns
    -------
    bool
    """
    return any((path / name).is_file() for name in ("zarr.json", ".zarray", ".zgroup"))


def plan_outputs(
    inputs: Sequence[tuple[str, str]], folder: Path, overwrite: bool, protected: Sequence[Path] = ()
) -> list[str]:
    """Output stems for the inputs, refusing collisions and existing outputs before anything is written.

    Parameters
    ----------
    inputs : sequence of (label, name)
        ``label`` is how the input is named in messages (its path), ``name`` its file name.
    folder : Path
        The output folder (may not exist yet).
    overwrite : bool
        Whether existing outputs may be replaced.
    protected : sequence of Path
        Files the run reads (its input images, the model it applies): an output standing at one of
        them is refused even with ``overwrite`` (``img.jpg img_quantized.png -o .`` would otherwise
        replace the second input with the first one's output before reading it).

    Returns
    -------
    list of str
        One stem per input.

    Raises
    ------
    ValueError
        If two inputs would write the same outputs, if an output exists and ``overwrite`` is
        False, or if a folder that is not a zarr store stands at an output's name.
    """
    stems = [output_stem(name) for _, name in inputs]
    seen: dict[str, str] = {}
    for (label, _), stem in zip(inputs, stems, strict=True):
        key = stem.casefold()  # case-insensitive file systems (macOS, Windows) would collide too
        if key in seen:
            raise ValueError(
                f"inputs {seen[key]} and {label} would both write {stem}_* outputs in {folder}; "
                "rename one or run them into separate output folders (nothing was written)"
            )
        seen[key] = label
    for stem in stems:
        for name in output_names(stem):
            target = folder / name
            if not os.path.lexists(target):
                continue
            read = next((path for path in protected if _same_file(target, path)), None)
            if read is not None:
                raise ValueError(
                    f"{target} is an output name of this run but also one of its inputs ({read}); an input is "
                    "never overwritten, even with --overwrite: choose another output folder (nothing was written)"
                )
            if target.is_dir() and not target.is_symlink() and not (name.endswith(".zarr") and is_zarr_store(target)):
                raise ValueError(
                    f"{target} is a folder that napari-colorquant did not write; it is never replaced or deleted: "
                    "move it away or choose another output folder (nothing was written)"
                )
            if not overwrite:
                raise ValueError(
                    f"{target} already exists; pass --overwrite to replace it, or choose another output folder "
                    "(nothing was written)"
                )
    return stems


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder (False when either does not exist)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def prepare_folder(folder: Path) -> None:
    """Create the output folder (and parents) with a one-line error a user can act on.

    Parameters
    ----------
    folder : Path
        The output folder.

    Raises
    ------
    ValueError
        If the folder is a file, lies under a file, or cannot be created.
    """
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output folder {folder} is a file, not a folder; choose another --output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as error:
        raise ValueError(f"output folder {folder} cannot be created: {error.filename} is a file") from error
    except NotADirectoryError as error:
        raise ValueError(f"output folder {folder} cannot be created: a part of its path is a file") from error
    except OSError as error:
        raise ValueError(f"output folder {folder} cannot be created: {error.strerror or error}") from error


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove staging folders left in ``folder`` by runs whose process is gone (killed with SIGKILL).

    Only ``.colorquant-<pid>-<host>-*`` folders made on this machine are touched (a folder shared
    over the network may hold another machine's run in progress), and only when process ``pid``
    no longer exists.

    Parameters
    ----------
    folder : Path
        The output folder.

    Returns
    -------
    list of Path
        The folders removed.
    """
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STAGING_NAME.match(entry.name)
        if not match or not entry.is_dir() or entry.is_symlink():
            continue
        pid, host = int(match.group(1)), match.group(2)
        if host in (None, _host()) and pid != os.getpid() and not _process_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def staging_folder(folder: Path) -> Iterator[Path]:
    """A hidden folder ``.colorquant-<pid>-<host>-*`` inside ``folder``, removed with everything in it on exit.

    Parameters
    ----------
    folder : Path
        The output folder (it must exist).

    Yields
    ------
    Path
        The staging folder, on the output folder's file system (so :func:`commit` moves, never copies).

    Raises
    ------
    ValueError
        If nothing can be written in ``folder`` (read-only, no permission, full).
    """
    try:
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-{_host()}-", dir=folder))
    except OSError as error:
        raise ValueError(f"cannot write in output folder {folder}: {error.strerror or error}") from error
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _place(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` unless something exists there (no clobbering, even across processes)."""
    if source.is_dir():
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        os.rename(source, target)  # fails on a non-empty folder that appeared meanwhile
        return
    try:
        os.link(source, target)  # atomic: fails if target exists
    except FileExistsError:
        raise
    except OSError:  # file systems without hard links
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(source, target)
        return
    os.unlink(source)


def commit(staged: Sequence[Path], folder: Path, backup: Path, overwrite: bool) -> list[Path]:
    """Move staged outputs into ``folder`` together: all of them, or none.

    Parameters
    ----------
    staged : sequence of Path
        Files or zarr folders written in a staging folder.
    folder : Path
        The output folder.
    backup : Path
        An empty folder on the same file system where replaced outputs are kept until all
        new ones are in place (restored if placing fails).
    overwrite : bool
        Replace existing outputs; otherwise an output that appeared since planning (another
        run into the same folder) makes the whole group fail, and nothing is placed.

    Returns
    -------
    list of Path
        The placed outputs.

    Raises
    ------
    ValueError
        If an output appeared meanwhile (without ``overwrite``) or a folder that is not a zarr
        store stands at an output's name.
    OSError
        If moving fails for another reason (the outputs already placed are taken back).
    """
    placed: list[Path] = []
    moved_away: list[tuple[Path, Path]] = []
    try:
        for number, source in enumerate(staged):
            target = folder / source.name
            if overwrite and os.path.lexists(target):
                if target.is_dir() and not is_zarr_store(target):
                    raise ValueError(f"{target} is a folder that napari-colorquant did not write; not replacing it")
                kept = backup / f"{number}-{source.name}"
                os.rename(target, kept)
                moved_away.append((kept, target))
            try:
                _place(source, target)
            except (FileExistsError, OSError) as error:
                if isinstance(error, FileExistsError) or error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise ValueError(
                        f"{target} appeared while this run was writing (another run into the same folder?); "
                        "it was kept and nothing was written for this input"
                    ) from error
                raise
            placed.append(target)
    except BaseException:
        for target in placed:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                with suppress(FileNotFoundError):
                    os.unlink(target)
        for kept, target in moved_away:
            with suppress(FileNotFoundError):
                os.rename(kept, target)
        raise
    return placed
