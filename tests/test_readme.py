"""The README works when pasted: every Python block runs as it is, every command's options exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def _commands(block: str):
    """Each invocation of the project's commands in a bash block, as (program, arguments)."""
    for line in block.splitlines():
        line = line.split(" #")[0].strip()
        for part in line.split("&&"):
            tokens = shlex.split(part)
            for i, token in enumerate(tokens):
                name = Path(token).name
                if name in ("napari-colorquant", "napari-colorquant-viewer"):
                    yield name, tokens[i + 1 :]
                    break
                if token == "-m" and i + 1 < len(tokens) and tokens[i + 1] == "napari_colorquant":
                    yield "napari-colorquant", tokens[i + 2 :]
                    break


PYTHON_BLOCKS = code_blocks(README, "python")
COMMANDS = [command for path in DOCS for block in code_blocks(path, "bash") for command in _commands(block)]


def test_readme_has_snippets_and_commands():
    assert len(PYTHON_BLOCKS) >= 3 and len(COMMANDS) >= 6


@pytest.mark.parametrize("number", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs_as_pasted(number, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = compile(PYTHON_BLOCKS[number], f"README.md python block {number + 1}", "exec")
    exec(code, {"__name__": "__main__"})


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join([c[0], *c[1]])[:60] if isinstance(c, tuple) else c)
def test_documented_command_lines_parse(command):
    """Options, choices (sample names, methods) and values of every documented command line are accepted."""
    from napari_colorquant._napari.launch import build_parser as viewer_parser
    from napari_colorquant.cli import build_parser

    program, arguments = command
    parser = build_parser() if program == "napari-colorquant" else viewer_parser()
    try:
        parser.parse_args(arguments)
    except SystemExit as stop:
        assert stop.code == 0, f"{program} {' '.join(arguments)}: rejected by its parser"


def test_readme_apt_line_is_in_a_code_block():
    text = README.read_text(encoding="utf-8")
    assert "`apt-get install" not in text
    assert any("apt-get install" in block for block in code_blocks(README, "bash"))
    assert "3-bit indexed PNG" not in text


def test_markdown_tables_are_not_split():
    """Each run of table rows starts with a header and its |---| line (a split table renders as text)."""
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            starts_table = line.startswith("|") and (number == 0 or not lines[number - 1].startswith("|"))
            if starts_table:
                separator = lines[number + 1].replace(" ", "") if number + 1 < len(lines) else ""
                assert re.fullmatch(r"\|(:?-+:?\|)+", separator), f"{path.name}:{number + 1}: table without header"


def test_every_documented_image_exists():
    """Each ![...](path) of the README and docs/ points at a file in the repository."""
    for path in DOCS:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            assert (path.parent / target).is_file(), f"{path.name}: missing image {target}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_documented_commands_pasted_in_order_do_not_collide(path):
    """Pasting a page's command lines in order never stops at "already exists": each run writes new names.

    The CLI refuses to overwrite outputs (without ``--overwrite``), so two documented commands that write
    the same input name into the same folder make the second one fail when a reader pastes them.
    """
    from napari_colorquant.cli import build_parser
    from napari_colorquant.outputs import output_stem

    written: dict[tuple[str, str], str] = {}
    for block in code_blocks(path, "bash"):
        for program, arguments in _commands(block):
            if program != "napari-colorquant" or "--help" in arguments or "-h" in arguments:
                continue
            args = build_parser().parse_args(arguments)
            if args.overwrite:
                continue
            folder = str(Path(args.output)).rstrip("/")
            names = [Path(name).name for name in args.inputs] + ([args.sample] if args.sample else [])
            line = " ".join(arguments)
            for name in names:
                key = (folder, output_stem(name))
                assert key not in written, f"{path.name}: `{line}` overwrites the outputs of `{written[key]}`"
                written[key] = line


def test_guide_sample_file_opens_as_the_guide_says(tmp_path, monkeypatch):
    """docs/napari.md's first block, pasted, writes the OME-TIFF its walk-through opens: one layer per named
    channel, at its pixel size (step 1 says the pixel size becomes the layer scale; without one it was 1)."""
    from napari_colorquant._napari.reader import get_reader

    monkeypatch.chdir(tmp_path)
    (block, *_) = code_blocks(ROOT / "docs" / "napari.md", "python")
    exec(compile(block, "docs/napari.md python block 1", "exec"), {"__name__": "__main__"})
    ((data, meta, kind),) = get_reader("kidney.ome.tif")("kidney.ome.tif")
    assert kind == "image" and meta["name"] == ["kidney C0", "kidney C1", "kidney C2"]
    assert data.shape == (8, 3, 128, 128) and meta["channel_axis"] == 1  # napari splits it into three layers
    assert list(meta["scale"]) == [1.0, 0.5, 0.5] and meta["units"][1:] == ["micrometer", "micrometer"]
