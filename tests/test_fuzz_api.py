"""A large fuzz of the Python API: expressions built from the notation's tokens — with the
classes fuzzing found (subscript digits, sized ones, Kronecker products of unknown sizes,
words of letters, literal ones, Greek constants added to arrays, vector functions) —
are parsed, differentiated with respect to each variable, and printed in every format.
Each ends in an answer or a :class:`matcalc.MatcalcError`, within a bound only a hang
reaches (each example is also bounded by the API's own time limit)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc import limits

ATOMS = ["A", "B", "X", "W", "x", "y", "b", "z", "λ", "ε", "μ", "I", "1", "2", "½", "𝟏", "𝟏_m", "Iₙ", "x₁",
         "x3₁", "W1", "K_{m,n}", "Ax", "AXB", "xy", "eps", "lambda", "Σ", "S"]
UNARY = ["tr(@)", "inv(@)", "log(@)", "exp(@)", "σ(@)", "softmax(@)", "sum(@)", "‖@‖", "‖@‖²", "@'", "@ᵀ", "@^-1",
         "@^2", "@.^2", "sqrt(@)", "L(@)", "g(@)", "∂g(@)", "∇L(@)", "diag(@)", "vec(@)", "logdet(@)", "det(@)",
         "(@)", "-@", "1 (@)", "f'(@)", "relu(@)", "tanh(@)", "norm1(@)", "|@|"]
BINARY = ["@ + @", "@ - @", "@ @", "@ * @", "@ ⊙ @", "@ ./ @", "@ / @", "@ ⊗ @", "kron(@, @)", "⟨@, @⟩",
          "@ : @", "@'@", "@ + 1 (@)"]


def _fill(template: str, *parts: str) -> str:
    pieces = template.split("@")
    return pieces[0] + "".join(p + rest for p, rest in zip(parts, pieces[1:], strict=True))


def expressions(leaves: int) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(st.tuples(st.sampled_from(UNARY), inner).map(lambda t: _fill(*t)),
                         st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: _fill(*t)))

    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=leaves)


def _exercise(text: str) -> None:
    try:
        e = matcalc.parse(text)
    except matcalc.MatcalcError as err:
        assert err.pretty()
        return
    assert e.text() and e.latex() and e.to_dict()
    for name in list(e.shapes)[:3]:
        try:
            r = matcalc.diff(e, name)
            assert r.text(steps=True) and r.latex() and r.to_dict()
            if e.is_scalar:
                h = matcalc.hessian(e, name)
                assert h.text() and h.to_dict()
        except matcalc.MatcalcError as err:
            assert err.pretty()


FUZZ = settings(max_examples=700, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# two tests of many examples each (so that a parallel run shares them out): short and long
@FUZZ
@given(expressions(4))
def test_the_api_answers_or_refuses_short_expressions(text):
    # a bound that only a hang reaches: the API's own default applies to each call inside
    with limits.deadline(120, f"the fuzzed expression {text!r}"):
        _exercise(text)


@FUZZ
@given(expressions(9))
def test_the_api_answers_or_refuses_long_expressions(text):
    with limits.deadline(120, f"the fuzzed expression {text!r}"):
        _exercise(text)
