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
