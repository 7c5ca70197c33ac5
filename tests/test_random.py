"""Property-based tests: random well-shaped expressions over the whole language,
differentiated by matcalc and checked by finite differences of the NumPy the generator
built with each text, and by the SymPy oracle.

The suite runs a few hundred (deterministically); an on-demand run takes more:

    MATCALC_RANDOM_EXPRESSIONS=3000 MATCALC_RANDOM_SYMPY=500 pytest tests/test_random.py
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import matcalc

from generate import WHERE, expression, generated
from oracle import assert_results_reparse, check_numerically

N_NUMERIC = int(os.environ.get("MATCALC_RANDOM_EXPRESSIONS", "300"))
N_SYMPY = int(os.environ.get("MATCALC_RANDOM_SYMPY", "60"))
ON_DEMAND = "MATCALC_RANDOM_EXPRESSIONS" in os.environ

COMMON = dict(deadline=None, derandomize=not ON_DEMAND, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _picker(data):
    return lambda options: data.draw(st.sampled_from(list(options)))


@settings(max_examples=N_NUMERIC, **COMMON)
@given(st.data())
def test_random_expressions_match_finite_differences(data):
    expr, wrt, oracle = generated(_picker(data), depth=3)
    note(f"d/d{wrt} [{expr}]")
    check_numerically(expr, wrt, WHERE, oracle, rtol=1e-4)


@settings(max_examples=N_SYMPY, **COMMON)
@given(st.data())
def test_random_expressions_pass_the_sympy_check(data):
    expr, wrt = expression(_picker(data), depth=2)
    note(f"d/d{wrt} [{expr}]")
    result = matcalc.diff(expr, wrt, WHERE).check(timeout=30)
    assert result.ok is not False, str(result)


@settings(max_examples=max(N_NUMERIC // 3, 50), **COMMON)
@given(st.data())
def test_random_results_print_and_reparse(data):
    """Printed results re-parse (with the expression's declarations and shape) to an
    expression of the same value."""
    expr, wrt, oracle = generated(_picker(data), depth=3)
    note(f"d/d{wrt} [{expr}]")
    assert_results_reparse(matcalc.diff(expr, wrt, WHERE), oracle)
