r"""vispy's reading of shader sources, without its two slow regular expressions (the same variables).

The first time a vispy program is drawn, vispy reads the GLSL source napari's visual assembled for the
variables it declares (``vispy.gloo.program.Program._parse_variables_from_code``), in Python, on the GUI
thread, inside the paint. Two regular expressions there are slow on those sources (20-90 KB):

* comments are removed with ``re.sub(r"(.*)(//.*)", r"\1", code, flags=re.M)``: on a line without ``//``
  the greedy pattern is tried again from each of its characters, so the cost grows with the square of
  the lines' lengths (~25 ms for the 85 KB source of an image layer's or a text's program);
* declarations are found with six patterns that begin with ``\s*``, which keeps Python's regex engine
  from jumping from one occurrence of the keyword to the next (~7 ms for the same source).

Together they were ~30 ms of the separate feature window's first paint of its points (which builds a
markers' and a text's program) and of the axes' names' first paint, and of every first paint of an image
or labels layer. :func:`install` gives vispy's program module a stand-in for :mod:`re` whose ``sub`` and
``finditer`` do those two things directly: each line cut at its last ``//`` (what the greedy pattern
removes), and the same declarations found by the patterns without their leading ``\s*`` (a match that
begins with blanks is the same match begun at the keyword; vispy reads only its named groups). Every other
call goes to :mod:`re` unchanged.

This leans on vispy's private module layout (its module-level ``re`` and ``REGEX_VAR``). :func:`install`
first parses a sample source with and without the stand-in and installs it only when both give the same
variables; with another vispy (names missing, a different pattern or another result) vispy is left as it is.
"""

from __future__ import annotations

import re
import threading
from types import ModuleType
from typing import Any

#: vispy's pattern and replacement for removing ``//`` comments (vispy.gloo.program).
_COMMENT, _KEEP = r"(.*)(//.*)", r"\1"

#: A sample source for the check: comments (two on a line, one inside a declaration's line), precisions,
#: arrays, default values, ``in`` / ``out``, blanks before declarations, a keyword ending another word.
_SAMPLE_VERTEX = """
uniform mat4 u_matrix;  // the transform // of the data
  uniform highp float u_scale = 1.5;
attribute vec2 a_position;
in vec4 a_color; // per vertex
varying vec4 v_color;
out float v_size;
const int N = 3;
uniform vec4 u_array[3];
// uniform float u_commented;
void main() { vec2 origin = a_position; v_color = a_color; gl_Position = u_matrix * vec4(origin, 0., 1.); }
"""
_SAMPLE_FRAGMENT = """
varying vec4 v_color;   //uniform float u_hidden;
uniform lowp sampler2D u_texture;// adjacent
void main() { gl_FragColor = v_color * texture2D(u_texture, vec2(0.5)); }
"""

_lock = threading.Lock()


def strip_line_comments(code: str) -> str:
    """``code`` with each line cut at its last ``//``: vispy's ``re.sub(r"(.*)(//.*)", r"\\1", code, flags=re.M)``.

    Parameters
    ----------
    code : str
        GLSL source.

    Returns
    -------
    str
        The same string as vispy's substitution (the greedy first group keeps everything before a line's last
        ``//``; ``.`` stops only at ``\\n``), in one pass instead of one attempt per character.
    """
    return "\n".join(line[: line.rfind("//")] if "//" in line else line for line in code.split("\n"))


class _Regexes:
    """Stands in for :mod:`re` inside vispy's program module (see the module docstring)."""

    def __init__(self, declarations: dict[re.Pattern, re.Pattern]) -> None:
        self._declarations = declarations

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def sub(self, pattern, repl, string, count=0, flags=0):
        """:func:`re.sub`; vispy's comment removal done line by line."""
        if pattern == _COMMENT and repl == _KEEP and not count and flags == re.M and isinstance(string, str):
            return strip_line_comments(string)
        return re.sub(pattern, repl, string, count=count, flags=flags)

    def finditer(self, pattern, string, flags=0):
        """:func:`re.finditer`; vispy's declaration patterns without their leading blanks."""
        faster = self._declarations.get(pattern) if not flags else None
        return re.finditer(pattern, string, flags) if faster is None else faster.finditer(string)


def _faster_declarations(module: ModuleType) -> dict[re.Pattern, re.Pattern] | None:
    """vispy's declaration patterns, each with its equivalent without the leading ``\\s*`` (None: not as expected)."""
    patterns = getattr(module, "REGEX_VAR", None)
    if not isinstance(patterns, dict) or not patterns:
        return None
    faster = {}
    for pattern in patterns.values():
        if not isinstance(pattern, re.Pattern) or not pattern.pattern.startswith(r"\s*"):
            return None
        rest = pattern.pattern[len(r"\s*") :]
        if not rest[:1].isalpha():  # the keyword must follow, or the two would not find the same matches
            return None
        faster[pattern] = re.compile(rest, pattern.flags)
    return faster


def _variables(module: ModuleType) -> dict:
    """The variables vispy's program module finds in the sample source."""
    return dict(module.Program(_SAMPLE_VERTEX, _SAMPLE_FRAGMENT)._code_variables)


def install() -> bool:
    """Give vispy's program module the faster stand-in for :mod:`re`, if it gives the same variables (once).

    Returns
    -------
    bool
        True when installed (now or before); False when this vispy does not read its sources as expected
        (then it is left unchanged).
    """
    try:
        from vispy.gloo import program as module
    except ImportError:
        return False
    with _lock:
        if isinstance(getattr(module, "re", None), _Regexes):
            return True
        declarations = _faster_declarations(module)
        if getattr(module, "re", None) is not re or declarations is None:
            return False
        try:
            expected = _variables(module)
            module.re = _Regexes(declarations)
            if _variables(module) == expected:
                return True
        except Exception:  # any failure of the check: vispy as it was
            pass
        module.re = re
        return False
