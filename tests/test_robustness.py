"""Bad input of any kind gives a matcalc error (a message with a position), never a
Python traceback."""

from __future__ import annotations

import contextlib
import io
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.cli import main

ALPHABET = string.ascii_letters[:12] + string.digits[:4] + " +-*/'^(){}.,|_" + "ᵀ⁻¹²⊙⊗‖∇∂σ′𝟏𝟎"
TOKENS = ["A", "x", "X", "W", "b", "tr(", "inv(", "log(", "softmax(", "L(", ")", "(", "'", "^T", "^-1", "^2",
          " + ", " - ", " * ", " ⊙ ", " ⊗ ", " ./ ", " .^2", "‖", "1ᵀ", "I", "2", "λ", ",", "grad ", "f'(", "kron("]


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=ALPHABET, max_size=24))
def test_random_text_parses_or_fails_cleanly(text):
    try:
        matcalc.parse(text)
    except matcalc.MatcalcError as err:
        assert err.pretty()


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=10), st.sampled_from(["x", "A", "X", "W", "b", "λ"]))
def test_random_token_soup_differentiates_or_fails_cleanly(tokens, wrt):
    try:
        matcalc.diff("".join(tokens), wrt)
    except matcalc.MatcalcError as err:
        assert err.pretty()


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(text=st.text(alphabet=ALPHABET, max_size=16), where=st.text(alphabet="ABxy :×,nm0", max_size=12))
def test_cli_never_shows_a_traceback(text, where):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["diff", text, "x", "--where", where, "--no-check"])
    assert code in (0, 2) and "Traceback" not in err.getvalue()


def test_deep_nesting_is_an_error_not_a_crash():
    text = "(" * 3000 + "x" + ")" * 3000
    with pytest.raises(matcalc.ParseError, match="nested too deeply") as err:
        matcalc.parse(text)
    assert err.value.span is not None and err.value.pretty().count("^") >= 1
    assert str(matcalc.parse("(" * 900 + "x" + ")" * 900)) == "x"  # within the bound: read


def test_the_python_api_has_a_time_bound():
    with pytest.raises(matcalc.TimeLimitError, match="timeout=SECONDS"):
        matcalc.diff("tr(" + " ".join(f"A{i} X" for i in range(2000)) + ")", "X", timeout=0.01)
