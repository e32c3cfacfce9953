"""vispy reads its shaders' sources without its two slow regular expressions, and finds the same variables."""

from __future__ import annotations

import random
import re

import pytest

COMMENT = r"(.*)(//.*)"


@pytest.mark.parametrize("seed", range(20))
def test_comments_are_cut_as_vispys_pattern_cuts_them(seed):
    from napari_colorquant._napari.shader_sources import strip_line_comments

    rng = random.Random(seed)
    code = "".join(rng.choice("//// ab\n\r\t;") for _ in range(rng.randint(0, 400)))
    assert strip_line_comments(code) == re.sub(COMMENT, r"\1", code, flags=re.M)


def test_another_vispy_is_left_as_it_is(monkeypatch):
    from vispy.gloo import program

    from napari_colorquant._napari import shader_sources

    monkeypatch.setattr(program, "re", re)
    changed = {kind: re.compile(r"\b" + pattern.pattern) for kind, pattern in program.REGEX_VAR.items()}
    monkeypatch.setattr(program, "REGEX_VAR", changed)  # not the patterns the stand-in was written for
    assert shader_sources.install() is False
    assert program.re is re


def test_a_stand_in_that_finds_other_variables_is_not_installed(monkeypatch):
    from vispy.gloo import program

    from napari_colorquant._napari import shader_sources

    monkeypatch.setattr(program, "re", re)
    monkeypatch.setattr(shader_sources, "strip_line_comments", lambda code: code)  # would keep commented lines
    assert shader_sources.install() is False
    assert program.re is re


def test_the_first_run_parses_shaders_without_the_slow_patterns_and_finds_the_same_variables(
    make_viewer, dock, run_and_wait, monkeypatch
):
    """The feature window's first paints (points, their empty labels, the axes' names) and the outputs' built
    programs whose sources vispy read with two regular expressions, ~30 ms per program on the GUI thread."""
    from vispy.gloo import program

    from napari_colorquant._napari import warmup

    slow, parsed = [], []
    sub, finditer, parse = re.sub, re.finditer, program.Program._parse_variables_from_code

    def counted_sub(pattern, *args, **kwargs):
        if pattern == COMMENT:
            slow.append("comments")
        return sub(pattern, *args, **kwargs)

    def counted_finditer(pattern, *args, **kwargs):
        if pattern in program.REGEX_VAR.values():
            slow.append("declarations")
        return finditer(pattern, *args, **kwargs)

    def recorded(self, *args, **kwargs):
        parse(self, *args, **kwargs)
        parsed.append(("\n\n".join(shader.code for shader in self._shaders), dict(self._code_variables)))

    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "separate window"
    warmup.start().join(120)
    monkeypatch.setattr(re, "sub", counted_sub)
    monkeypatch.setattr(re, "finditer", counted_finditer)
    monkeypatch.setattr(program.Program, "_parse_variables_from_code", recorded)
    try:
        run_and_wait(widget)
        window = widget.feature_viewer
        assert window is not None and "china feature space" in window.layers
    finally:
        monkeypatch.undo()
    try:
        assert len(parsed) >= 3  # the points' markers, their labels' text, the axes (lines, arrow heads, names)
        assert slow == []
        for code, variables in parsed:  # vispy's own reading of the same source, with the re module
            assert _vispy_variables(program, code) == variables
    finally:
        widget.close_feature_viewer()


def _vispy_variables(program, code: str) -> dict:
    """The variables vispy's own parse (with :mod:`re`) finds in ``code``."""

    class Shader:
        def __init__(self, text):
            self.code = text

    stand_in, program.re = program.re, re
    try:
        bare = program.Program.__new__(program.Program)
        bare._shaders, bare._pending_variables = [Shader(code)], {}
        program.Program._parse_variables_from_code(bare, update_variables=False)
        return bare._code_variables
    finally:
        program.re = stand_in
