"""The function table owns everything about a function (issue 9).

Each test here runs over every row of :data:`matcalc.functions.TABLE` or every row of the
identity table, so a function added as one row and one identity-table row is covered by
all of them: its NumPy and SymPy implementations agree, it is tested in the identity
table, it prints in text and LaTeX, re-parses, and reads back from a LaTeX table cell.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
import sympy as sp

import matcalc
from matcalc import functions as F
from matcalc.nodes import Call
from matcalc.shapes import STRICT

from identities import ROWS, Row

ROOT = pathlib.Path(matcalc.__file__).parent


def _id(row: Row) -> str:
    return f"{row.expr} wrt {row.wrt}"


# ------------------------------------------------------------------------- the table rows

def _argument(fn: F.Function, rng: np.random.Generator) -> np.ndarray:
    """A value the row accepts: a 3×3 positive definite matrix, a 4-vector or a 3×2
    matrix, whichever its shape rule takes first; positive where its domain says so."""
    for shape in ((3, 3), (4, 1), (3, 2)):
        try:
            fn.shape([shape], STRICT)
        except Exception:  # noqa: BLE001 - the shape rule refuses this shape
            continue
        value = rng.normal(size=shape)
        if fn.elementwise:
            return np.abs(value) + 0.1 if fn.domain == "positive" else value
        return value @ value.T + 3 * np.eye(3) if shape == (3, 3) else value
    raise AssertionError(f"{fn.key}: no shape accepted")


@pytest.mark.parametrize("fn", list(F.TABLE.values()), ids=lambda f: f.key)
def test_numpy_and_sympy_implementations_agree(fn: F.Function) -> None:
    rng = np.random.default_rng(7)
    x = _argument(fn, rng)
    got = np.asarray(fn.numpy(np, x), dtype=float)
    m = sp.Matrix(x.tolist())
    if fn.elementwise:
        want = m.applyfunc(lambda v: fn.sympy(sp, v))
    else:
        want = fn.sympy(sp, m)
    want = np.array(sp.Matrix(want).evalf(30).tolist() if isinstance(want, sp.MatrixBase) else [[want]],
                    dtype=complex).real
    assert np.allclose(got.reshape(want.shape), want, rtol=1e-9, atol=1e-12), fn.key


def _called(rows: list[Row]) -> set[str]:
    keys = set()
    for row in rows:
        for n in matcalc.parse(row.expr, row.where).tree.walk():
            if isinstance(n, Call):
                keys.add(n.fn.key)
    return keys


def test_every_function_has_an_identity_table_row() -> None:
    """A row is not done without a test row: each function typed by users appears in the
    identity table (derivative rows, which users rarely type, appear in its answers)."""
    typed = {f.key for f in F.TABLE.values() if f.prime is not None or not f.elementwise}
    derivative_rows = {f.key for f in F.TABLE.values() if f.elementwise and f.prime is None} | {
        f.key for f in F.TABLE.values() if f.key.endswith("'")}
    missing = sorted(typed - derivative_rows - _called(ROWS) - {"adj", "inv", "diagv"})
    assert not missing, f"functions without an identity-table row: {missing}"


def test_nothing_outside_the_table_tests_a_function_key() -> None:
    """What a function is, is read from its row: no ``fn.key == …``, ``fn is F.X`` or key
    sets outside functions.py."""
    offenders = []
    pattern = re.compile(r"fn\.key\b|\.fn is F\.|\.fn in \(F\.|fn\.name ==|\.fn\.key in")
    for path in ROOT.rglob("*.py"):
        if path.name == "functions.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_names_and_latex_spellings_resolve_to_their_rows() -> None:
    for fn in F.TABLE.values():
        if fn.key.endswith("'") or fn is F.DIAGV:
            continue
        for name in (fn.name, *fn.aliases, *([fn.unicode] if fn.unicode else [])):
            assert F.lookup(name) is fn, name
        for spelling in (fn.latex, *fn.latex_names):
            if spelling:
                assert F.lookup_latex(spelling) is fn, spelling
    assert F.lookup_latex(r"\operatorname{nosuchfunction}") is None
    assert F.lookup("nosuchfunction") is None


# -------------------------------------------------------------------- the identity-table rows

@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_expression_round_trips_through_text(row: Row) -> None:
    e = matcalc.parse(row.expr, row.where)
    where = e.where()
    for ascii in (False, True):
        again = matcalc.parse(e.text(ascii), where)
        assert again.text() == e.text(), (ascii, e.text(ascii))


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_expression_reads_back_from_a_latex_table_cell(row: Row) -> None:
    """The LaTeX matcalc prints for an expression is read by the table reader (what a
    user pastes into a Markdown identity table) as the same expression."""
    from matcalc.tables import latex_to_matcalc

    e = matcalc.parse(row.expr, row.where)
    text = latex_to_matcalc(f"${e.latex()}$")
    again = matcalc.parse(text, e.where())
    assert _greek(again.text()) == _greek(e.text()), (e.latex(), text)


def _greek(text: str) -> str:
    """λ and lambda are one letter: LaTeX writes \\lambda, which reads back as λ."""
    return text.replace("lambda", "λ")
