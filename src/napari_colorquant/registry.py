"""Looking a name up in one of the package's registries (colour spaces, methods), with one error message.

An unknown name is a :class:`ValueError` that lists the accepted names, never a silent
fall-through to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

Entry = TypeVar("Entry")


def lookup(registry: Mapping[str, Entry], what: str, name: str) -> Entry:
    """The entry registered under ``name``.

    Parameters
    ----------
    registry : mapping of str to entry
        E.g. :data:`napari_colorquant.methods.REGISTRY`.
    what : str
        The parameter the name was given for, e.g. ``"method"`` (it starts the error message).
    name : str
        The name asked for.

    Returns
    -------
    entry

    Raises
    ------
    ValueError
        For an unknown name (or one that is not a string), listing the accepted ones.
    """
    try:
        return registry[name]
    except (KeyError, TypeError):
        accepted = ", ".join(repr(key) for key in registry)
        raise ValueError(f"unknown {what} {name!r}; accepted: {accepted}") from None
