"""Fuzzing the command line's argument parsing and the table reader.

Every input gets a clean answer or a clean error: an exit code in {0, 1, 2, 3}, never a
traceback (nor the catch-all "internal error", which would be a bug), and a positional
is never read as an option, whatever its first character.
"""

from __future__ import annotations

import string
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc import api
from matcalc.cli import _parser, main
from matcalc.errors import MatcalcError
from matcalc.tables import CellError, TableError, check_table, decode_table, latex_to_matcalc

FIRST = list(string.printable[:95]) + ["σ", "∇", "‖", "⊙", "−", "ᵀ", "𝟏", "é", "\u200b", "-", "--", "---", "-h",
                                       "½", "⊤", "’", "\u00a0", "\ufeff", "⟨", "⟩", "₁", "|"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(argv, capsys):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def clean(code, err):
    assert code in (0, 1, 2, 3), code
    assert "Traceback" not in err and "internal error" not in err, err


@pytest.mark.parametrize("first", FIRST)
def test_an_expression_may_begin_with_any_character(capsys, first):
    cases = [("parse", first + "x"), ("diff", first + "x' x", "x", "--no-check"),
             ("diff", "x' x", first + "x", "--no-check"), ("parse", "--", first)]
    if first not in ("--", "-h"):  # alone, these two are the end of the options and the help
        cases.append(("parse", first))
    for argv in cases:
        code, out, err = run(argv, capsys)
        clean(code, err)
        assert "usage:" not in err, (argv, err)  # argparse never took it for an option


@given(first=st.sampled_from(FIRST), rest=st.text(max_size=30))
@FUZZ
def test_random_positionals_are_never_options(first, rest):
    import contextlib
    import io

    options = set(_parser()[1]["parse"]) | set(_parser()[1]["diff"]) | {"--"}
    assume(first + rest not in options and not (first + rest).startswith(tuple(o + "=" for o in options)))
    for argv in (["parse", first + rest], ["diff", first + rest, "x", "--no-check"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
        clean(code, err.getvalue())
        assert "usage:" not in err.getvalue(), (argv, err.getvalue())


TOKENS = st.one_of(
    st.sampled_from(["--where", "-w", "--format", "-f", "--layout", "-l", "--steps", "-s", "--timeout", "--",
                     "--table", "-h", "--where=x: n", "--format=json", "--timeout=0.5", "json", "ascii", "latex",
                     "numerator", "x", "x' A x", "-x' x", "A", "nan", "-1", "1e9", "0.2", "", " ", "—", "--bogus"]),
    st.text(max_size=12),
)


@given(command=st.sampled_from(["parse", "diff", "check", "bogus", "-x"]), tokens=st.lists(TOKENS, max_size=6))
@FUZZ
def test_random_command_lines(command, tokens):
    """Any command line: a clean exit code.  (The SymPy check is replaced by a quick stub.)"""
    import contextlib
    import io

    from matcalc.checking import sympy_oracle, verdict
    from matcalc.checking.result import CheckResult

    def quick(*args, **kwargs):
        return CheckResult(None, "stub", {}, 0.0, "not run in this test")

    argv = [command, *(["--no-check"] if command == "diff" else []), *tokens]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sympy_oracle, "check_derivative", quick)
        mp.setattr(verdict, "check_derivative", quick)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    clean(code, err.getvalue())
    assert "\ue000" not in out.getvalue() + err.getvalue()


# ---------------------------------------------------------------- the table reader


@given(st.binary(max_size=300))
@FUZZ
def test_random_bytes(data):
    try:
        text = decode_table(data)
    except TableError as err:
        assert "byte offset" in err.message
        return
    _check_stubbed(text)


@given(st.text(max_size=300))
@FUZZ
def test_random_unicode(text):
    _check_stubbed(text)


def _latex() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(["A", "B", "X", "I", "e", "x", "2", r"\mathbf{x}", r"\mathbf{a}", r"\mathbf{1}",
                             r"\boldsymbol{\Sigma}", r"\mu", r"\lambda", r"\sigma", r"\frac{1}{2}", r"\alpha"])
    noise = st.sampled_from(["|", "$", "{", "}", "^", "_", "\\", r"\foo", "&", "'", "’", "(", ")", r"\|",
                             r"\left", r"\right", r"\,", "=", "||", r"\top", "ᵀ", "‖", ":", ",", r"\langle",
                             r"\rangle", "⟨", "⟩"])
    unary = st.sampled_from([r"\|@\|", r"\lVert @ \rVert", r"\left\| @ \right\|", "(@)", r"\log\det @",
                             r"\log \det(@)", r"\mathrm{tr}(@)", r"\operatorname{Tr}(@)", "e^{@}", r"\exp(@)",
                             r"\det(@)", r"\sigma(@)", r"\operatorname{erf}(@)", "@^T", "@^{T}", r"@^\top",
                             r"@^\intercal", "@^{-1}", "@^{-T}", "@^2", r"\sqrt{@}", r"\Vert @ \Vert_F", "@_{1}",
                             r"\nabla f(@)", r"\text{diag}(@)",
                             # issue 9's notations, and words that are no function
                             r"\|@\|_1", r"\|@\|_2^2", r"\|@\|^2_F", r"|@|", r"\log|@|", r"\left|@\right|",
                             r"\cosh(@)", r"\arctan @", r"\operatorname{logsumexp}(@)", r"\mathrm{log1p}(@)",
                             r"\operatorname{sofmax}(@)", r"sofmax(@)", r"\text{Trace}(@)", r"@^{\mathsf T}", "@⊤"])
    binary = st.sampled_from(["@ + @", "@ - @", "@ @", r"@ \odot @", r"@ \cdot @", "@@", r"\frac{@}{@}",
                              r"\langle @, @ \rangle", "@ : @"])

    def fill(template: str, *parts: str) -> str:
        pieces = template.split("@")
        return pieces[0] + "".join(p + rest for p, rest in zip(parts, pieces[1:], strict=True))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(unary, inner).map(lambda t: fill(*t)),
            st.tuples(binary, inner, inner).map(lambda t: fill(*t)),
        )

    return st.recursive(st.one_of(atoms, atoms, noise), extend, max_leaves=8)


@given(_latex())
@settings(max_examples=150, deadline=None)
def test_random_latex_cells(cell):
    """A cell is read into text that the parser accepts or rejects cleanly, or is unreadable."""
    try:
        text = latex_to_matcalc(f"${cell}$")
    except CellError:
        return
    assert "\\" not in text and "$" not in text, text  # nothing of the LaTeX is passed on unread
    try:
        api.parse(text)
    except MatcalcError:
        pass


@given(st.lists(st.tuples(_latex(), _latex()), min_size=1, max_size=3))
@FUZZ
def test_random_latex_tables(rows):
    text = "| $f$ | $\\frac{\\partial f}{\\partial \\mathbf{x}}$ |\n|---|---|\n" + "".join(
        f"| ${a}$ | ${b}$ |\n" for a, b in rows)
    results = _check_stubbed(text)
    # every row gets one result, on its own line: none is skipped, none is invented
    assert [r.line for r in results] == list(range(3, 3 + len(rows)))
    assert all(r.status in ("verified", "wrong", "unchecked", "unreadable") for r in results)


def _check_stubbed(text: str) -> list:
    """check_table with the SymPy verdict replaced by matcalc's own reading of both sides."""
    import matcalc.tables as tables

    def quick(expr, wrt, claim, where=None, layout="denominator", timeout=10.0):
        r = matcalc.diff(expr, wrt, where, layout=layout)
        c = matcalc.parse(claim, r.expression.where())
        return SimpleNamespace(status="unchecked", diagnosis=[], claim=c, expression=r.expression,
                               text=lambda ascii=False: "unchecked (stub)", to_dict=lambda: {"status": "unchecked"})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "check", quick)
        results = check_table(text)
    for r in results:
        assert r.status in ("verified", "wrong", "unchecked", "unreadable")
        assert r.text() and r.to_dict()["status"] == r.status
    return results


@pytest.mark.slow
@given(st.lists(st.tuples(_latex(), _latex()), min_size=1, max_size=2))
@settings(max_examples=12, deadline=None)
def test_random_latex_tables_really_checked(rows):
    """A few random tables through the real SymPy check, each row within a 3 s limit."""
    text = "| $f$ | $\\frac{\\partial f}{\\partial \\mathbf{x}}$ |\n|---|---|\n" + "".join(
        f"| ${a}$ | ${b}$ |\n" for a, b in rows)
    for r in check_table(text, timeout=3):
        assert r.status in ("verified", "wrong", "unchecked", "unreadable")
        r.text()
