"""Every identity in the table comes out in textbook form and matches finite differences
of the row's own NumPy function."""

from __future__ import annotations

import pytest

import matcalc

from identities import ROWS, Row
from oracle import Oracle, check_numerically


def _id(row: Row) -> str:
    return f"d[{row.expr}]/d{row.wrt}" + (f" ({row.where})" if row.where else "")


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_textbook_form(row: Row) -> None:
    r = matcalc.diff(row.expr, row.wrt, row.where)
    got = r.gradient if r.gradient is not None else r.jacobian
    assert str(got) == row.expected, f"{row.source}: got {got}"


def test_every_row_has_its_numpy() -> None:
    """A row without its NumPy function is not checked numerically: that is a failure."""
    assert [row.expr for row in ROWS if not isinstance(row.oracle, Oracle)] == []


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_matches_finite_differences(row: Row) -> None:
    for seed in (0, 1):
        check_numerically(row.expr, row.wrt, row.where, row.oracle, seed=seed)


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_numerator_layout_is_the_transpose(row: Row) -> None:
    check_numerically(row.expr, row.wrt, row.where, row.oracle, layout="numerator")


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_results_reparse(row: Row) -> None:
    """Printed results re-parse, with the expression's declarations, to the same value."""
    r = matcalc.diff(row.expr, row.wrt, row.where)
    where = r.expression.where()
    for result in (r.differential, r.gradient, r.jacobian):
        if result is None:
            continue
        for ascii in (False, True):
            again = matcalc.parse(result.text(ascii), where)
            assert _text(matcalc.api.canonical(again.tree)) == str(result)


def _text(tree) -> str:
    return matcalc.api.to_text(tree)


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_passes_the_sympy_check(row: Row) -> None:
    """Every derivative in the table also passes the SymPy elementwise check."""
    result = matcalc.diff(row.expr, row.wrt, row.where).check(timeout=60)
    assert result.ok is True, str(result)
