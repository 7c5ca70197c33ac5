"""The README's Python examples and the API's docstring examples are true."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import matcalc
import matcalc.api

ROOT = Path(__file__).resolve().parent.parent


def test_readme_examples():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, verbose=False)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize("module", [matcalc, matcalc.api])
def test_docstring_examples(module):
    result = doctest.testmod(module, verbose=False)
    assert result.failed == 0


def _cli_examples():
    """README blocks that start with `$ matcalc …`, with the output printed under them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = text.split("```")[1::2]
    out = []
    for block in blocks:
        lines = block.strip("\n").splitlines()
        if lines and lines[0].startswith("$ matcalc ") and not any(line.strip() == "..." for line in lines):
            out.append((lines[0][2:], "\n".join(lines[1:])))
    return out


@pytest.mark.parametrize("command, expected", _cli_examples(), ids=lambda v: v if v.startswith("matcalc") else "")
def test_readme_cli_examples_are_real_output(command, expected, capsys):
    import shlex

    from matcalc.cli import main

    main(shlex.split(command)[1:])
    captured = capsys.readouterr()
    assert _untimed(captured.out + captured.err) == _untimed(expected)


def _untimed(text: str) -> str:
    """Outputs match but for the seconds a check took, and numcheck's milliseconds and
    rounding errors (they differ between machines' BLAS)."""
    import re

    text = re.sub(r"\d\.\de-\d\d", "…", text)
    return re.sub(r"\d+(?:\.\d+)? m?s\)", "… s)", text).rstrip("\n")


def test_readme_has_cli_examples():
    assert len(_cli_examples()) >= 6


def test_every_subpackage_ships_in_the_wheel():
    """pyproject.toml lists packages by name: a new subpackage must be listed, or the
    installed tool fails with ModuleNotFoundError where the editable one works."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "matcalc").rglob("__init__.py")}
    assert found <= listed, f"not shipped: {sorted(found - listed)}"
