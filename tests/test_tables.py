"""`matcalc check --table`: reading Markdown identity tables as lecture notes write them.

The file is read with a bound and as UTF-8 only; every cell is read strictly (a cell the
reader does not understand is *unreadable*, with its line, never skipped or misread); and
the verdicts on the rows are the SymPy oracle's.
"""

from __future__ import annotations

import json

import pytest

import matcalc
from matcalc import functions as F
from matcalc import limits
from matcalc.cli import main
from matcalc.errors import TimeLimitError
from matcalc.tables import (
    CellError,
    TableError,
    check_table,
    decode_table,
    exit_code,
    latex_to_matcalc,
    read_cell,
    read_table_file,
    split_row,
    wrt_of,
)

HEADER = "| $f(\\mathbf{x})$ | $\\frac{\\partial f}{\\partial \\mathbf{x}}$ |\n|---|---|\n"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def table_file(tmp_path, text, name="t.md"):
    f = tmp_path / name
    f.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(f)


# ---------------------------------------------------------------- the file


def test_bom_and_crlf(tmp_path, capsys):
    text = "\ufeff" + (HEADER + "| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n").replace("\n", "\r\n")
    code, out, err = run(capsys, "check", "--table", table_file(tmp_path, text))
    assert code == 0 and "1 of 1 rows correct" in out, err


@pytest.mark.parametrize("data, fragment", [
    (b"| a | b |\n\x00\x01\x02", "not a text file: a NUL byte at byte offset 10"),
    ("| café | b |".encode("latin-1"), "not UTF-8 text: the byte 0xe9 at byte offset 5"),
    (b"\xef\xbb\xbf| \xff |", "the byte 0xff at byte offset 5"),  # offsets count the BOM
])
def test_binary_and_non_utf8_files_are_clean_errors(tmp_path, capsys, data, fragment):
    path = table_file(tmp_path, data)
    with pytest.raises(TableError, match=fragment):
        read_table_file(path)
    code, out, err = run(capsys, "check", "--table", path)
    assert code == 2 and fragment in err and path in err and "Traceback" not in err and not out


def test_the_read_is_bounded(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TABLE_BYTES", 100)
    path = table_file(tmp_path, HEADER + "| $x$ | $1$ |\n" * 20)
    code, _, err = run(capsys, "check", "--table", path)
    assert code == 2 and "larger than 100 bytes" in err
    code, _, err = run(capsys, "check", "--table", "/dev/zero")  # ends, with a clean error
    assert code == 2 and "/dev/zero" in err and "Traceback" not in err


@pytest.mark.parametrize("path, fragment", [("/nonexistent/t.md", "No such file"), ("/", "Is a directory")])
def test_unreadable_paths(capsys, path, fragment):
    code, _, err = run(capsys, "check", "--table", path)
    assert code == 2 and fragment in err and path in err


def test_decode_table():
    assert decode_table(b"\xef\xbb\xbfabc") == "abc"
    assert decode_table("αβ".encode()) == "αβ"


# ---------------------------------------------------------------- rows and cells


def test_split_row_keeps_norm_bars_and_maths():
    assert split_row(r"| $\|A\mathbf{x}-\mathbf{b}\|^2$ | $2A^T(A\mathbf{x}-\mathbf{b})$ |") == [
        r"$\|A\mathbf{x}-\mathbf{b}\|^2$", r"$2A^T(A\mathbf{x}-\mathbf{b})$"]
    assert split_row("| $||x||^2$ | $2x$ | note |") == ["$||x||^2$", "$2x$", "note"]
    assert split_row("| a | | b |") == ["a", "", "b"]


@pytest.mark.parametrize("cell, text", [
    (r"$\|A\mathbf{x}-\mathbf{b}\|^2$", "norm(A x - b)^2"),
    (r"$\lVert \mathbf{x} \rVert^2$", "norm(x)^2"),
    (r"$\Vert X \Vert_F^2$", "norm(X)^2"),
    (r"$\left\| A\mathbf{x} \right\|_2$", "norm(A x)"),
    (r"$||\mathbf{x}||^2$", "norm(x)^2"),
    (r"$\log\det X$", "logdet(X)"),
    (r"$\log \det(X)$", "logdet(X)"),
    (r"$\log\det(\boldsymbol{\Sigma})$", "logdet(Σ)"),
    (r"$e^{\mathbf{x}}$", "exp(x)"),
    (r"$e^{x}$", "exp(x)"),
    (r"$e^{-\mathbf{a}^T\mathbf{x}}$", "exp(- a' x)"),
    (r"$\exp(\mathbf{w}^\top\mathbf{x})$", "exp(w' x)"),
    (r"$\mathrm{tr}(X^T A)$", "tr(X' A)"),
    (r"$\operatorname{Tr}(AXB)$", "tr(A X B)"),
    (r"$\mathbf{x}^\top A$", "x' A"),
    (r"$A^\intercal$", "A'"),
    (r"$A^{\top}$", "A'"),
    (r"$A^{-\top}$", "A^-T"),
    (r"$\boldsymbol{\Sigma}^{-1}\boldsymbol{\mu}$", "Σ^-1 μ"),
    (r"$\lambda \mu \Sigma$", "λ μ Σ"),
    (r"$\frac{1}{2}\mathbf{x}^T\mathbf{x}$", "(1/2) x' x"),
    (r"$\mathbf{1}^T \mathbf{x}$", "𝟏' x"),
    (r"$\sigma(\mathbf{x}) \odot (1 - \sigma(\mathbf{x}))$", "σ(x) ⊙ (1 - σ(x))"),
    (r"$\nabla f(\mathbf{x})$", "∇f(x)"),
    (r"$\hat{\mathbf{y}}$", "y_hat"),
    (r"$\mathbf{x}_{1}^T \mathbf{x}_2$", "x_1' x_2"),
    (r"x^T A x", "x' A x"),  # a cell without $ is read as maths too
    (r"$A^{-T} = (A^{-1})^T$", "A^-T = (A^-1)'"),
    # the notations of issue 9, each into plain matcalc text
    (r"$\|\mathbf{x}\|_1$", "norm1(x)"),
    (r"$\lVert \mathbf{x}\rVert_1$", "norm1(x)"),
    (r"$\|\mathbf{x}\|_{1}$", "norm1(x)"),
    (r"$\|X\|_F$", "norm(X)"),
    (r"$\|\mathbf{x}\|_2$", "norm(x)"),
    (r"$\|\mathbf{x}\|_2^2$", "norm(x)^2"),
    (r"$\lVert \mathbf{x} \rVert_2^2$", "norm(x)^2"),
    (r"$\|\mathbf{x}\|^2_2$", "norm(x)^2"),  # the superscript first, as some notes write it
    (r"$||\mathbf{x}||_1$", "norm1(x)"),
    (r"$\langle A, X\rangle$", "tr(A' X)"),
    (r"$\langle A + B, X \rangle$", "tr((A + B)' X)"),
    (r"$⟨A, X⟩$", "tr(A' X)"),
    (r"$A : X$", "tr(A' X)"),
    (r"$2A : X + B:Y$", "tr((2 A)' X) + tr(B' Y)"),
    (r"$\log\det X$", "logdet(X)"),
    (r"$\log\det(X)$", "logdet(X)"),
    (r"$\log \operatorname{det} X$", "logdet(X)"),
    (r"$\log|X|$", "logdet(X)"),
    (r"$\log\left|\boldsymbol{\Sigma}\right|$", "logdet(Σ)"),
    (r"$|\boldsymbol{\Sigma}|$", "det(Σ)"),
    (r"$|X^T X|$", "det(X' X)"),
    (r"$|\lambda I - A|$", "det(λ I - A)"),
    (r"$|X|^{-1}$", "det(X)^-1"),
    (r"$|a|$", "abs(a)"),
    (r"$|\lambda|$", "abs(λ)"),
    (r"$|\mathbf{a}^T\mathbf{x}|$", "abs(a' x)"),
    (r"$|\operatorname{tr}(A)|$", "abs(tr(A))"),  # a scalar, though A is a matrix
    (r"$\log|x|$", "log(abs(x))"),
    (r"$\tfrac12 \mathbf{x}$", "(1/2) x"),
    (r"$\frac{1}{2}$", "(1/2)"),
    (r"$\dfrac{1}{2}$", "(1/2)"),
    (r"$\mathbf{x}^\top$", "x'"),
    (r"$\mathbf{x}^{\mathsf T}$", "x'"),
    (r"$\mathbf{x}^{\intercal}$", "x'"),
    (r"$\mathbf{x}^⊤ \mathbf{y}$", "x' y"),
    (r"$\frac{1}{n} \mathbf{1}^\top \mathbf{x}$", "(1/n) 𝟏' x"),
    (r"$\cosh x + \sinh(x)$", "cosh(x) + sinh(x)"),
    (r"$\tan x$", "tan(x)"),
    (r"$\arctan(x)$", "arctan(x)"),
    (r"$\operatorname{sign}(x)$", "sign(x)"),
    (r"$\operatorname{sgn}(x)$", "sign(x)"),
    (r"$\operatorname{erf}(x)$", "erf(x)"),  # one word, never e r f x
    (r"$\mathrm{erf}(x)$", "erf(x)"),
    (r"$\operatorname{logsumexp}(\mathbf{x})$", "logsumexp(x)"),
    (r"$\operatorname{log1p}(x) + \mathrm{expm1}(x)$", "log1p(x) + expm1(x)"),
    (r"$\log(1 + x)$", "log(1 + x)"),
    (r"$\ln x$", "log(x)"),
    (r"$\sum \mathbf{x}$", "sum(x)"),
    # a word names a function whatever its case, when only one function has that name
    (r"$\operatorname{Tr}(A)$", "tr(A)"),
    (r"$\text{Trace}(A)$", "tr(A)"),
    (r"$\Tr(A)$", "tr(A)"),
    (r"$\mathrm{ReLU}(x)$", "relu(x)"),
    (r"$\operatorname{Softmax}(x)$", "softmax(x)"),
    (r"$ReLU(x)$", "relu(x)"),
    (r"$tr(A) + log1p(x)$", "tr(A) + log1p(x)"),  # plain letters that name a function
    (r"$ABS$", "A B S"),  # capitals side by side are a product, not abs
    (r"$\mathbf{x}^{\odot 3} + X^{\circ 2} + \mathbf{x}^{\odot (n+1)}$", "x.^3 + X.^2 + x.^(n + 1)"),  # entry by entry
])
def test_latex_cells(cell, text):
    assert latex_to_matcalc(cell) == text


@pytest.mark.parametrize("cell, fragment", [
    (r"$\operatorname{softsign}(x)$", r"unknown function 'softsign' in \operatorname{softsign}"),
    (r"$\mathrm{sofmax}(x)$", r"unknown function 'sofmax' in \mathrm{sofmax}; did you mean 'softmax'?"),
    (r"$\text{logsumexpp}(x)$", "did you mean 'logsumexp'?"),
    (r"$\operatorname{foo}(x)$", r"unknown function 'foo' in \operatorname{foo} (declare it with --where"),
    (r"$\mathrm{Erff}(x)$", "unknown function 'Erff'"),
    (r"$x + \text{const}$", r"cannot read the word 'const' in \text{const}: it is no function matcalc knows"),
    (r"$sofmax(\mathbf{x})$", "unknown function 'sofmax' in sofmax(…); did you mean 'softmax'?"),
    (r"$foo(x)$", "letters side by side are a product"),
    (r"$\sofmax(x)$", r"\sofmax is not one matcalc reads"),
    (r"$|x$", "a bar | is not closed"),
    (r"$| |$", "empty bars"),
    (r"$\|x\|_\infty$", r"the norm ‖…‖_\infty is not one matcalc knows (only ‖…‖, ‖…‖_1, ‖…‖_2, ‖…‖_F)"),
    (r"$\|X\|_2$", "spectral norm"),  # of a matrix: not the Frobenius norm
    (r"$\langle A \rangle$", "two arguments"),
    (r"$\langle A, X$", "⟨ is not closed"),
    (r"$A, X\rangle$", "closing bracket"),
    (r"$: X$", "needs a factor on each side"),
    (r"$A :$", "needs a factor on each side"),
    (r"$\|x$", "not closed"),
    (r"$\sum_i x_i$", r"the function \sum has no argument (a subscript or superscript after it: an index"),
    (r"$\mathbb{R}^n$", "a set"),
    (r"$A^*$", "conjugate"),
    (r"$\sqrt[3]{x}$", "square root"),
    (r"$(x$", "not closed"),
    (r"$x)$", "closing bracket"),
    (r"$x +$", "ends with"),
    (r"$x$ where $x > 0$", "text outside the maths"),
    (r"$x & y$", "character '&'"),
    (r"$x", "$ is not closed"),
    (r"$ $", "empty"),
    (r"$A^-$", "superscript ^-"),
])
def test_unreadable_cells(cell, fragment):
    with pytest.raises(CellError) as info:
        latex_to_matcalc(cell)
    assert fragment in info.value.message


def test_declared_function_names_are_read():
    assert latex_to_matcalc(r"$\operatorname{softsign}(x)$", frozenset({"softsign"})) == "softsign(x)"
    assert latex_to_matcalc(r"$softsign(x)$", frozenset({"softsign"})) == "softsign(x)"


def _spellings():
    """Every LaTeX spelling of every row of the function table, with the row."""
    for fn in F.TABLE.values():
        for spelling in dict.fromkeys((fn.latex, *fn.latex_names)):
            if spelling and not spelling.endswith("'"):
                yield pytest.param(spelling, fn, id=f"{fn.key}:{spelling}")


@pytest.mark.parametrize("spelling, fn", list(_spellings()))
def test_every_latex_spelling_in_the_function_table_is_read(spelling, fn):
    """The reader has no word list of its own: a row's LaTeX spellings are read as that row,
    so adding a function is adding a row (σ is the Greek letter, which the parser reads as
    the sigmoid)."""
    text = latex_to_matcalc(f"${spelling}(x)$")
    assert text.endswith("(x)") and F.lookup(text.removesuffix("(x)")).name == fn.name, text


@pytest.mark.parametrize("name", [n for n in F.names() if F.lookup(n) is not None and n.isascii()])
def test_every_function_name_is_read_in_an_operatorname(name):
    assert latex_to_matcalc(rf"$\operatorname{{{name}}}(x)$") == f"{F.lookup(name).name}(x)"


@pytest.mark.parametrize("cell, kinds, text", [
    (r"$|X|$", {}, "det(X)"),
    (r"$|X|$", {"X": "vector"}, "abs(X)"),
    (r"$|a|$", {"a": "matrix"}, "det(a)"),
    (r"$|a|$", {"a": "scalar"}, "abs(a)"),
    (r"$|\mathbf{M}|$", {}, "det(M)"),  # a bold capital is still a matrix
])
def test_single_bars_read_by_the_kind_of_what_is_inside(cell, kinds, text):
    assert latex_to_matcalc(cell, kinds=kinds) == text


def test_single_bars_say_how_they_were_read():
    cell = read_cell(r"$\log|\boldsymbol{\Sigma}| + |\mathbf{a}^T\mathbf{x}|$")
    assert cell.sides == ["logdet(Σ) + abs(a' x)"]
    assert cell.readings == ["|Σ| read as det(Σ), the determinant (Σ is a matrix)",
                             "|a' x| read as abs(a' x), the absolute value (entry by entry)"]


@pytest.mark.parametrize("header, wrt", [
    (r"$\frac{\partial f}{\partial \boldsymbol{\Sigma}}$", "Σ"),
    (r"$\frac{\partial f}{\partial \mathbf{w}}$", "w"),
    (r"$\frac{\partial \mathbf{f}}{\partial \mathbf{x}}$", "x"),
    (r"$\dfrac{\partial f}{\partial X}$", "X"),
    (r"$\nabla_{\mathbf{w}} f$", "w"),
    (r"$\nabla_{\mathbf{x}} f(\mathbf{x})$", "x"),
    (r"$\nabla_x f$", "x"),
    (r"$\partial f / \partial X$", "X"),
    (r"$\partial f/\partial \mathbf{x}$", "x"),
    (r"$\frac{df}{dx}$", "x"),
    (r"$\frac{\partial f}{\partial \mu}$", "μ"),
    ("Gradient", None),
    (r"$\frac{\partial f}{\partial (x y)}$", None),
])
def test_headers(header, wrt):
    assert wrt_of(header) == wrt


# ---------------------------------------------------------------- verdicts on small tables

LECTURE_NOTES = r"""# Least squares and friends

| $f(\mathbf{x})$ | $\nabla_{\mathbf{x}} f(\mathbf{x})$ |
|---|---|
| $\|A\mathbf{x}-\mathbf{b}\|^2$ | $2A^T(A\mathbf{x}-\mathbf{b})$ |
| $\lVert \mathbf{x} \rVert^2$ | $2\mathbf{x}$ |
| $\Vert A\mathbf{x} \Vert^2$ | $2 A^\intercal A \mathbf{x}$ |
| $\left\| \mathbf{x} - \mathbf{b} \right\|^2$ | $2(\mathbf{x} - \mathbf{b})$ |
| $e^{\mathbf{a}^\top\mathbf{x}}$ | $e^{\mathbf{a}^T\mathbf{x}} \mathbf{a}$ |
| $\exp(\mathbf{a}^T\mathbf{x})$ | $\exp(\mathbf{a}^T\mathbf{x})\,\mathbf{a}$ |
| $\mathbf{x}^T A \mathbf{x}$ | $2A\mathbf{x}$ |
| $\mathbf{x}^T A \mathbf{x}$ (symmetric $A$) | $2A\mathbf{x}$ |

| $f$ | $\frac{\partial f}{\partial \boldsymbol{\Sigma}}$ |
|---|---|
| $\log\det \boldsymbol{\Sigma}$ | $\boldsymbol{\Sigma}^{-T}$ |
| $\log \det(\boldsymbol{\Sigma})$ | $(\boldsymbol{\Sigma}^{-1})^\top$ |
| $\mathrm{tr}(\boldsymbol{\Sigma} S)$ | $S^T$ |
| $\operatorname{Tr}(\boldsymbol{\Sigma}^{-1} S)$ | $-\boldsymbol{\Sigma}^{-T} S^T \boldsymbol{\Sigma}^{-T}$ |

| $f$ | $\frac{\partial f}{\partial \mathbf{w}}$ |
|---|---|
| $\mathbf{w}^\top\mathbf{w}$ | $2\mathbf{w}$ |
| $\lambda \mathbf{w}^T\mathbf{w}$ | $2\lambda\mathbf{w}$ |
| $(\mathbf{w} - \boldsymbol{\mu})^T(\mathbf{w} - \boldsymbol{\mu})$ | $2(\mathbf{w}-\boldsymbol{\mu})$ |

| $f$ | $\partial f / \partial X$ |
|---|---|
| $\operatorname{softsign}(x)$ | $x$ |
| $\mathrm{tr}(X)$ | $I$ |
"""


def test_lecture_note_latex_gives_the_right_verdicts(tmp_path, capsys):
    path = table_file(tmp_path, LECTURE_NOTES)
    code, out, err = run(capsys, "check", "--table", path, "--format", "json")
    rows = json.loads(out)["rows"]
    got = {r["line"]: (r["expression"], r["claim"], r["status"]) for r in rows}
    assert got == {
        5: ("norm(A x - b)^2", "2 A' (A x - b)", "verified"),
        6: ("norm(x)^2", "2 x", "verified"),
        7: ("norm(A x)^2", "2 A' A x", "verified"),
        8: ("norm(x - b)^2", "2 (x - b)", "verified"),
        9: ("exp(a' x)", "exp(a' x) a", "verified"),
        10: ("exp(a' x)", "exp(a' x) a", "verified"),
        11: ("x' A x", "2 A x", "wrong"),
        12: ("x' A x", "2 A x", "verified"),
        16: ("logdet(Σ)", "Σ^-T", "verified"),
        17: ("logdet(Σ)", "(Σ^-1)'", "verified"),
        18: ("tr(Σ S)", "S'", "verified"),
        19: ("tr(Σ^-1 S)", "- Σ^-T S' Σ^-T", "verified"),
        23: ("w' w", "2 w", "verified"),
        24: ("λ w' w", "2 λ w", "verified"),
        25: ("(w - μ)' (w - μ)", "2 (w - μ)", "verified"),
        29: (r"$\operatorname{softsign}(x)$", "$x$", "unreadable"),
        30: ("tr(X)", "I", "verified"),
    }
    assert code == 1  # a wrong row wins over an unreadable one
    unknown = next(r for r in rows if r["line"] == 29)
    assert unknown["error"].startswith(r"cannot read the cell '$\operatorname{softsign}(x)$': "
                                       r"unknown function 'softsign' in \operatorname{softsign}")
    wrong = next(r for r in rows if r["line"] == 11)
    assert set(wrong) >= {"line", "expression", "wrt", "claim", "status", "error", "diagnosis"}
    assert any("symmetric part" in d for d in wrong["diagnosis"])
    code, out, _ = run(capsys, "check", "--table", path)
    assert "line 29:" in out and "unreadable: cannot read the cell" in out
    assert out.strip().splitlines()[-1] == (
        "15 of 17 rows correct in denominator layout; wrong: line 11; unreadable: line 29")


def test_unreadable_rows_exit_2_with_their_line(tmp_path, capsys):
    text = HEADER + "| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n| $\\mathbf{x}^T \\operatorname{foo}(\\mathbf{x})$ | $2\\mathbf{x}$ |\n" \
        "| $\\mathbf{x}^T\\mathbf{x}$ |\n| $x @ y$ | $1$ |\n| $\\mathbf{x}^T\\mathbf{x}$ | $2 \\mathbf{x} +$ |\n"
    code, out, err = run(capsys, "check", "--table", table_file(tmp_path, text))
    assert code == 2, err
    assert "line 4:" in out and "unknown function 'foo'" in out
    assert "line 5:" in out and "first two cells" in out
    assert "line 6:" in out and "character '@'" in out
    assert "line 7:" in out and "ends with '+'" in out
    assert "1 of 5 rows correct" in out and "unreadable: lines 4, 5, 6, 7" in out


def test_a_parse_error_names_the_cell_and_what_it_was_read_as(tmp_path):
    rows = check_table(HEADER + "| $\\mathbf{x}^T\\mathbf{x}$ | $A B$ |\n| $x + * y$ | $1$ |\n")
    assert [r.status for r in rows] == ["unreadable", "unreadable"]
    assert rows[0].error.startswith("cannot read the cell '$A B$' (read as 'A B')")
    assert rows[1].error.startswith("cannot read the cell '$x + * y$' (read as 'x + * y'): parse error")


def test_an_unknown_header_of_a_derivative_table_is_reported(tmp_path, capsys):
    text = ("| $f$ | $\\frac{\\partial f}{\\partial (\\mathbf{x} \\mathbf{y})}$ |\n|---|---|\n| $x$ | $1$ |\n\n"
            "| $f$ | derivative |\n|---|---|\n| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n")
    rows = check_table(text)
    assert [(r.line, r.status) for r in rows] == [(1, "unreadable"), (5, "unreadable")]
    assert "cannot read the header cell" in rows[0].error and "line 3" in rows[0].error
    assert "(line 7) is not checked" in rows[1].error
    code, out, _ = run(capsys, "check", "--table", table_file(tmp_path, text))
    assert code == 2


def test_prose_tables_and_code_fences_are_not_derivative_tables():
    text = ("| Convention | Gradient of $f$ w.r.t. $\\mathbf{x}$ |\n|---|---|\n| Numerator | Row $\\mathbf{x}^T$ |\n\n"
            "```\n" + HEADER + "| $\\mathbf{x}$ | nonsense @ |\n```\n")
    assert check_table(text) == []


def test_notes_declare_symmetry_and_other_notes_are_shown():
    text = (HEADER
            + "| $\\mathbf{x}^T \\boldsymbol{\\Sigma} \\mathbf{x}$ (symmetric $\\boldsymbol{\\Sigma}$) | "
              "$2\\boldsymbol{\\Sigma}\\mathbf{x}$ |\n"
            + "| $\\mathbf{x}^T\\mathbf{x}$ (for $\\mathbf{x} > 0$) | $2\\mathbf{x}$ |\n")
    rows = check_table(text)
    assert [r.status for r in rows] == ["verified", "verified"]
    assert rows[1].notes == ["for $\\mathbf{x} > 0$"] and "note not used: for" in rows[1].text()


def test_exit_code_rule(tmp_path):
    from matcalc.tables import RowResult

    def row(status):
        r = RowResult(1, "x", "1", "x")
        if status in ("unreadable", "unchecked"):
            r.error, r.error_status = "why", status
        else:
            r.verdicts.append(type("V", (), {"status": status, "diagnosis": []})())
        return r

    assert exit_code([row("verified")]) == 0
    assert exit_code([row("verified"), row("unchecked")]) == 3
    assert exit_code([row("unchecked"), row("unreadable")]) == 2
    assert exit_code([row("unreadable"), row("wrong"), row("unchecked")]) == 1


def test_a_row_out_of_time_is_unchecked(tmp_path, capsys, monkeypatch):
    import matcalc.tables as tables

    def slow(*args, **kwargs):
        raise TimeLimitError("checking line 3 did not finish within the time limit of 1 s")

    monkeypatch.setattr(tables, "check", slow)
    path = table_file(tmp_path, HEADER + "| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n")
    code, out, _ = run(capsys, "check", "--table", path, "--format", "json")
    assert code == 3 and json.loads(out)["rows"][0]["status"] == "unchecked"
    assert "time limit" in json.loads(out)["rows"][0]["error"]


def test_table_with_positionals_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "check", "x", "--table", table_file(tmp_path, HEADER))
    assert code == 2 and "not both" in err
    code, _, err = run(capsys, "check", "--table", table_file(tmp_path, "# no table here\n"))
    assert code == 2 and "no derivative table" in err


def test_where_applies_to_every_row_and_is_checked_first(tmp_path, capsys):
    text = HEADER + "| $\\operatorname{softsign}(\\mathbf{a}^T\\mathbf{x})$ | $\\mathbf{a}$ |\n"
    path = table_file(tmp_path, text)
    code, _, err = run(capsys, "check", "--table", path, "--where", "A: symetric")
    assert code == 2 and "did you mean 'symmetric'" in err
    rows = check_table(text, where="softsign: function")
    assert rows[0].expression == "softsign(a' x)" and rows[0].status == "wrong"
    (row,) = check_table(text)
    assert row.status == "unreadable" and "unknown function 'softsign'" in row.error


@pytest.mark.parametrize("kwargs", [{"timeout": float("nan")}, {"timeout": -1}, {"timeout": "a"},
                                    {"layout": "num"}, {"where": 5}])
def test_check_table_arguments_are_checked(kwargs):
    from matcalc.errors import MatcalcError
    with pytest.raises(MatcalcError):
        check_table(HEADER + "| $x$ | $1$ |\n", **kwargs)
    with pytest.raises(TableError, match="not bytes"):
        check_table(HEADER.encode())


# ---------------------------------------------------------------- notes, readings, shapes (the user trial)

QUADRATIC = "| $\\mathbf{x}^T A \\mathbf{x}$%s | $2A\\mathbf{x}$%s |\n"


@pytest.mark.parametrize("note", [
    "A not symmetric",
    "general $A$, not necessarily symmetric",
    "wrong if $A$ is not symmetric",
    "skew-symmetric $A$",
    "non-symmetric $A$",
    "antisymmetric $A$",
    "unsymmetric $A$",
    "$A$ not symmetric",
    "if $A = A^T$",
    "symmetric $A$ unless stated",
    "symmetric",
])
def test_a_negated_or_qualified_note_declares_nothing(tmp_path, capsys, note):
    for text in (HEADER + QUADRATIC % (f" ({note})", ""), HEADER + QUADRATIC % ("", f" ({note})")):
        (row,) = check_table(text)
        assert row.status == "wrong" and row.declared == [] and row.notes == [note], row.text()
        assert f"note not used: {note}" in row.text() and "declared symmetric" not in row.text()
    code, out, _ = run(capsys, "check", "--table", table_file(tmp_path, HEADER + QUADRATIC % (f" ({note})", "")))
    assert code == 1 and "✗ not right" in out and "✓" not in out


@pytest.mark.parametrize("note", [
    "symmetric $A$", "$A$ symmetric", "$A$ is symmetric", "for symmetric $A$", "$A = A^T$", "$A^\\top = A$",
    "A symmetric", "symmetric positive definite $A$", "For symmetric $A$",
])
def test_a_plain_note_declares_in_either_cell(note):
    for text in (HEADER + QUADRATIC % (f" ({note})", ""), HEADER + QUADRATIC % ("", f" ({note})")):
        (row,) = check_table(text)
        assert row.status == "verified" and row.declared == ["A"] and row.notes == [], row.text()
        assert row.text().splitlines()[1] == "  A declared symmetric (from the note)"
        assert row.claim == "2 A x"  # the note is not part of the claim


def test_a_note_may_declare_several_names_and_each_counts():
    row = "| $\\mathbf{x}^T A B \\mathbf{x}$ (%s) | $(AB + BA)\\mathbf{x}$ |\n"
    (both,) = check_table(HEADER + row % "symmetric $A$, $B$")
    assert both.status == "verified" and both.declared == ["A", "B"]
    assert "A, B declared symmetric (from the note)" in both.text()
    (one,) = check_table(HEADER + row % "symmetric $A$")  # B is not symmetric: (AB + BᵀA)x
    assert one.status == "wrong" and one.declared == ["A"]
    (two,) = check_table(HEADER + "| $\\mathbf{x}^T A B \\mathbf{x}$ (symmetric $A$) | $(AB + BA)\\mathbf{x}$ "
                         "($B$ is symmetric) |\n")
    assert two.status == "verified" and two.declared == ["A", "B"] and "(from the notes)" in two.text()


@pytest.mark.parametrize("note, why", [
    ("symmetric $B$", "B is not in the row"),
    ("symmetric $\\mathbf{x}$", "x is not a matrix (a capital letter) but a vector"),
])
def test_a_note_that_cannot_apply_is_shown_not_dropped(tmp_path, capsys, note, why):
    text = HEADER + QUADRATIC % (f" ({note})", "")
    (row,) = check_table(text)
    assert row.status == "wrong" and row.declared == [] and row.notes == [note]
    assert f"note not used: {note} ({why})" in row.text()
    code, out, _ = run(capsys, "check", "--table", table_file(tmp_path, text), "--format", "json")
    (data,) = json.loads(out)["rows"]
    assert code == 1 and data["declared"] == [] and data["notes"] == [{"note": note, "why": why}]


def test_a_note_repeating_where_is_not_used():
    (row,) = check_table(HEADER + QUADRATIC % (" (symmetric $A$)", ""), where="A: n×n")
    assert row.declared == [] and "A is declared by --where already" in row.text()
    assert row.status == "wrong"


def test_a_note_of_maths_only_and_a_note_in_the_claim_cell_are_not_text_outside_the_maths():
    (row,) = check_table(HEADER + QUADRATIC % (" ($A = A^T$)", ""))
    assert row.status == "verified" and row.declared == ["A"]
    (row,) = check_table(HEADER + QUADRATIC % ("", " (if $A = A^T$)"))
    assert row.status == "wrong" and row.notes == ["if $A = A^T$"] and "text outside" not in row.text()
    (row,) = check_table(HEADER + "| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ (for $\\mathbf{x} > 0$) |\n")
    assert row.status == "verified" and row.notes == ["for $\\mathbf{x} > 0$"]


def test_every_row_says_what_it_declared_and_assumed_in_json(tmp_path, capsys):
    text = (HEADER + QUADRATIC % (" (symmetric $A$)", "")
            + "| $\\mathbf{a}\\, x$ | $\\mathbf{a}$ |\n"
            + "| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n")
    code, out, _ = run(capsys, "check", "--table", table_file(tmp_path, text), "--format", "json")
    sym, odd, plain = json.loads(out)["rows"]
    assert sym["declared"] == ["A: symmetric"] and sym["shapes"] == {"A": "m×m", "x": "m×1"}
    assert sym["assumptions"] == [] and sym["readings"] == [] and sym["notes"] == []
    assert odd["shapes"] == {"a": "m×1", "x": "1×1"}
    assert any("x is a scalar: the expression needs it" in a for a in odd["assumptions"])
    assert plain["declared"] == [] and plain["shapes"] == {"x": "m×1"}


def test_a_variable_not_of_its_default_kind_shows_the_shapes(tmp_path, capsys):
    text = HEADER + "| $\\mathbf{a}\\, x$ | $\\mathbf{a}$ |\n| $\\mathbf{x}^T\\mathbf{x}$ | $2\\mathbf{x}$ |\n"
    code, out, _ = run(capsys, "check", "--table", table_file(tmp_path, text))
    odd, plain = out.split("\n\n")[:2]
    assert "read with a: m, x: scalar: x is a scalar here, though a lowercase letter is a vector by default" in odd
    assert "x is a scalar: the expression needs it" in odd  # the assumption, once
    assert odd.count("x is a scalar: the expression needs it") == 1
    assert len(plain.splitlines()) == 3  # head, verdict, check: nothing to add to a plain row


DOT_ROWS = r"""| $f(\mathbf{x})$ | $\nabla_{\mathbf{x}} f$ |
|---|---|
| $\mathbf{a}\cdot\mathbf{x}$ | $\mathbf{a}$ |
| $\mathbf{a} \cdot \mathbf{x} + 2\,\mathbf{b}\cdot\mathbf{x}$ | $\mathbf{a} + 2\mathbf{b}$ |
| $(\mathbf{x}-\mathbf{b})\cdot(\mathbf{x}-\mathbf{b})$ | $2(\mathbf{x}-\mathbf{b})$ |
| $A\mathbf{x}\cdot\mathbf{y}$ | $A^T\mathbf{y}$ |
| $e^{\mathbf{w}\cdot\mathbf{x}}$ | $e^{\mathbf{w}\cdot\mathbf{x}}\mathbf{w}$ |
| $2 \cdot \mathbf{x}^T\mathbf{x}$ | $4\mathbf{x}$ |
| $\lambda \cdot \mathbf{x}^T\mathbf{x}$ | $2\lambda \cdot \mathbf{x}$ |
"""


def test_cdot_between_bold_vectors_is_the_dot_product(tmp_path, capsys):
    code, out, err = run(capsys, "check", "--table", table_file(tmp_path, DOT_ROWS), "--format", "json")
    rows = json.loads(out)["rows"]
    assert [(r["expression"], r["status"]) for r in rows] == [
        ("a' x", "verified"), ("a' x + (2 b)' x", "verified"), ("(x - b)' (x - b)", "verified"),
        ("(A x)' y", "verified"), ("exp(w' x)", "verified"), ("2 * x' x", "verified"),
        ("λ * x' x", "verified")], err
    assert code == 0
    assert rows[0]["readings"] == ["a · x read as the dot product a' x"]
    assert rows[3]["readings"] == ["A x · y read as the dot product (A x)' y"]
    assert rows[5]["readings"] == [] and rows[6]["readings"] == []  # a scalar times: nothing to say
    _, out, _ = run(capsys, "check", "--table", table_file(tmp_path, DOT_ROWS))
    assert "line 3: d/dx [aᵀ x] = a\n  a · x read as the dot product a' x\n  ✓ correct" in out


@pytest.mark.parametrize("cell, text", [
    (r"$\mathbf{a}\cdot\mathbf{x}$", "a' x"),
    (r"$\mathbf{a} · \mathbf{x}$", "a' x"),
    (r"$\boldsymbol{\mu}\cdot\mathbf{x}_1$", "μ' x_1"),
    (r"$\mathbf{a}\cdot A\mathbf{x}$", "a' A x"),
    (r"$c \cdot A$", "c * A"),
    (r"$2 \cdot \mathbf{x}$", "2 * x"),
    (r"$x \cdot y$", "x * y"),  # not bold: not known to be vectors
    (r"$\mathbf{a}\cdot\mathbf{b}\cdot\mathbf{c}$", "a * b * c"),
    (r"$\mathbf{a}\cdot\mathbf{x}\,\mathbf{y}^T$", "a * x y'"),
    (r"$\mathbf{a} \odot \mathbf{b}\cdot\mathbf{c}$", "a ⊙ b * c"),
])
def test_cdot_cells(cell, text):
    assert latex_to_matcalc(cell) == text


def test_a_cdot_that_is_not_a_dot_product_between_vectors_says_so():
    from matcalc.tables import read_cell
    cell = read_cell(r"$\mathbf{a}\cdot\mathbf{x}\,\mathbf{y}^T$")
    assert cell.readings == ["a · x y' read as the product a * x y' (not a dot product: its two sides are not "
                             "vectors that stand alone)"]
    (row,) = check_table(HEADER + r"| $\mathbf{a}\cdot\mathbf{b}\cdot\mathbf{x}$ | $\mathbf{a}$ |" + "\n")
    assert "a · b read as the product a * b" in row.text()
    with pytest.raises(CellError, match="ends with"):
        latex_to_matcalc(r"$\mathbf{a}\cdot$")


def test_a_loss_written_l_of_its_argument_is_an_abstract_function(tmp_path):
    table = tmp_path / "t.md"
    table.write_text("| $f$ | $\\frac{\\partial f}{\\partial \\mathbf{W}}$ |\n|---|---|\n"
                     "| $L(\\mathbf{W}\\mathbf{x})$ | $\\nabla L(\\mathbf{W}\\mathbf{x}) \\mathbf{x}^T$ |\n",
                     encoding="utf-8")
    rows = check_table(table.read_text(encoding="utf-8"))
    assert [r.status for r in rows] == ["verified"]


def test_bold_greek_letters_are_vectors(tmp_path):
    text = ("| $f$ | $\\frac{\\partial f}{\\partial \\boldsymbol{\\mu}}$ |\n|---|---|\n"
            "| $\\boldsymbol{\\mu}^T\\mathbf{x}$ | $\\mathbf{x}$ |\n"
            "| $\\boldsymbol{\\mu}\\cdot\\mathbf{x}$ | $\\mathbf{x}$ |\n"
            "| $\\log(1+e^{-\\boldsymbol{\\mu}^T\\mathbf{x}})$ | $-\\sigma(-\\boldsymbol{\\mu}^T\\mathbf{x})\\mathbf{x}$ |\n")
    rows = check_table(text, timeout=30)
    assert [r.status for r in rows] == ["verified"] * 3


# ---------------------------------------------------------------- the notations of issue 9, end to end

NOTATION = r"""# Norms, determinants, inner products and the new functions, as notes write them

| $f(\mathbf{x})$ | $\nabla_{\mathbf{x}} f$ |
|---|---|
| $\|\mathbf{x}\|_1$ | $\operatorname{sign}(\mathbf{x})$ |
| $\lVert \mathbf{x}\rVert_1$ | $\mathbf{x}$ |
| $\|\mathbf{x}\|_2$ | $\frac{\mathbf{x}}{\|\mathbf{x}\|_2}$ |
| $\|\mathbf{x}\|_2^2$ | $2\mathbf{x}$ |
| $\lVert \mathbf{x} \rVert_2^2$ | $2\mathbf{x}$ |
| $\|\mathbf{x}\|^2_2$ | $\mathbf{x}$ |
| $\langle \mathbf{a}, \mathbf{x}\rangle$ | $\mathbf{a}$ |
| $\tfrac12 \mathbf{x}^\top\mathbf{x}$ | $\mathbf{x}$ |
| $\frac{1}{2}\mathbf{x}^{\mathsf T} A \mathbf{x}$ | $\dfrac{1}{2}(A + A^{\intercal})\mathbf{x}$ |
| $\frac{1}{n} \mathbf{1}^\top \mathbf{x}$ | $\frac{1}{n}\mathbf{1}$ |
| $\mathbf{1}^T\cosh(\mathbf{x})$ | $\sinh(\mathbf{x})$ |
| $\mathbf{1}^T\sinh(\mathbf{x})$ | $\cosh(\mathbf{x})$ |
| $\mathbf{1}^T\sinh(\mathbf{x})$ | $\sinh(\mathbf{x})$ |
| $\mathbf{1}^T\tan(\mathbf{x})$ | $\mathbf{1} + \tan(\mathbf{x}) \odot \tan(\mathbf{x})$ |
| $\mathbf{1}^T\arctan(\mathbf{x})$ | $\mathbf{1} \oslash (\mathbf{1} + \mathbf{x} \odot \mathbf{x})$ |
| $\operatorname{sign}(\mathbf{a})^T\mathbf{x}$ | $\operatorname{sign}(\mathbf{a})$ |
| $\operatorname{erf}(\mathbf{a}^T\mathbf{b})\,\mathbf{c}^T\mathbf{x}$ | $\operatorname{erf}(\mathbf{a}^T\mathbf{b})\,\mathbf{c}$ |
| $\operatorname{erf}(\mathbf{a}^T\mathbf{x})$ | $\mathbf{a}$ |
| $\operatorname{logsumexp}(\mathbf{x})$ | $\operatorname{softmax}(\mathbf{x})$ |
| $\log(1 + e^{\mathbf{a}^T\mathbf{x}})$ | $\sigma(\mathbf{a}^T\mathbf{x})\,\mathbf{a}$ |
| $\operatorname{log1p}(e^{\mathbf{a}^T\mathbf{x}})$ | $\sigma(\mathbf{a}^T\mathbf{x})\,\mathbf{a}$ |
| $\mathbf{1}^T\mathrm{expm1}(\mathbf{x})$ | $e^{\mathbf{x}}$ |
| $|\mathbf{a}^T\mathbf{x}|$ | $\operatorname{sign}(\mathbf{a}^T\mathbf{x})\,\mathbf{a}$ |
| $\mathbf{1}^T|\mathbf{x}|$ | $\operatorname{sign}(\mathbf{x})$ |
| $\mathbf{1}^T|\mathbf{x}|$ | $\mathbf{1}$ |

| $f(X)$ | $\frac{\partial f}{\partial X}$ |
|---|---|
| $\|X\|_F^2$ | $2X$ |
| $\|X\|_F$ | $X$ |
| $\langle A, X\rangle$ | $A$ |
| $A : X$ | $A$ |
| $A : X$ | $A^T$ |
| $\log\det X$ | $X^{-T}$ |
| $\log\det(X)$ | $X^{-T}$ |
| $\log|X|$ | $X^{-T}$ |
| $\log|X|$ | $X^{-1}$ |
| $|X|$ | $|X|\, X^{-T}$ |
| $\operatorname{Tr}(A X)$ | $A^T$ |

| $f$ | $\frac{\partial f}{\partial \boldsymbol{\Sigma}}$ |
|---|---|
| $|\boldsymbol{\Sigma}|$ | $|\boldsymbol{\Sigma}|\,\boldsymbol{\Sigma}^{-T}$ |
| $\log|\boldsymbol{\Sigma}|$ | $\boldsymbol{\Sigma}^{-T}$ |
| $\operatorname{sofmax}(\boldsymbol{\Sigma})$ | $\boldsymbol{\Sigma}$ |
"""


def test_the_new_notations_are_checked_end_to_end(tmp_path, capsys):
    """Each notation is read into plain text, checked by the oracle, right rows verified and
    a deliberately wrong row wrong; a misspelt function is an unreadable row, never a product."""
    code, out, err = run(capsys, "check", "--table", table_file(tmp_path, NOTATION), "--format", "json",
                         "--timeout", "60")
    rows = json.loads(out)["rows"]
    got = {r["line"]: (r["expression"], r["claim"], r["status"]) for r in rows}
    assert got == {
        5: ("norm1(x)", "sign(x)", "verified"),
        6: ("norm1(x)", "x", "wrong"),
        7: ("norm(x)", "(x/(norm(x)))", "verified"),
        8: ("norm(x)^2", "2 x", "verified"),
        9: ("norm(x)^2", "2 x", "verified"),
        10: ("norm(x)^2", "x", "wrong"),
        11: ("tr(a' x)", "a", "verified"),
        12: ("(1/2) x' x", "x", "verified"),
        13: ("(1/2) x' A x", "(1/2) (A + A') x", "verified"),
        14: ("(1/n) 𝟏' x", "(1/n) 𝟏", "verified"),
        15: ("𝟏' cosh(x)", "sinh(x)", "verified"),
        16: ("𝟏' sinh(x)", "cosh(x)", "verified"),
        17: ("𝟏' sinh(x)", "sinh(x)", "wrong"),
        18: ("𝟏' tan(x)", "𝟏 + tan(x) ⊙ tan(x)", "verified"),
        19: ("𝟏' arctan(x)", "𝟏 ./ (𝟏 + x ⊙ x)", "verified"),
        20: ("sign(a)' x", "sign(a)", "verified"),
        21: ("erf(a' b) c' x", "erf(a' b) c", "verified"),
        22: ("erf(a' x)", "a", "wrong"),
        23: ("logsumexp(x)", "softmax(x)", "verified"),
        24: ("log(1 + exp(a' x))", "σ(a' x) a", "verified"),
        25: ("log1p(exp(a' x))", "σ(a' x) a", "verified"),
        26: ("𝟏' expm1(x)", "exp(x)", "verified"),
        27: ("abs(a' x)", "sign(a' x) a", "verified"),
        28: ("𝟏' abs(x)", "sign(x)", "verified"),
        29: ("𝟏' abs(x)", "𝟏", "wrong"),
        33: ("norm(X)^2", "2 X", "verified"),
        34: ("norm(X)", "X", "wrong"),
        35: ("tr(A' X)", "A", "verified"),
        36: ("tr(A' X)", "A", "verified"),
        37: ("tr(A' X)", "A'", "wrong"),
        38: ("logdet(X)", "X^-T", "verified"),
        39: ("logdet(X)", "X^-T", "verified"),
        40: ("logdet(X)", "X^-T", "verified"),
        41: ("logdet(X)", "X^-1", "wrong"),
        42: ("det(X)", "det(X) X^-T", "verified"),
        43: ("tr(A X)", "A'", "verified"),
        47: ("det(Σ)", "det(Σ) Σ^-T", "verified"),
        48: ("logdet(Σ)", "Σ^-T", "verified"),
        49: (r"$\operatorname{sofmax}(\boldsymbol{\Sigma})$", r"$\boldsymbol{\Sigma}$", "unreadable"),
    }, err
    assert code == 1
    by_line = {r["line"]: r for r in rows}
    assert by_line[49]["error"] == (r"cannot read the cell '$\operatorname{sofmax}(\boldsymbol{\Sigma})$': "
                                    r"unknown function 'sofmax' in \operatorname{sofmax}; did you mean 'softmax'? "
                                    "(declare it with --where \"sofmax: function\" if it is a function of your own)")
    assert by_line[47]["readings"] == ["|Σ| read as det(Σ), the determinant (Σ is a matrix)"] * 2
    assert by_line[27]["readings"][0] == "|a' x| read as abs(a' x), the absolute value (entry by entry)"


def test_a_declaration_decides_what_single_bars_are():
    header = "| $f$ | $\\frac{\\partial f}{\\partial X}$ |\n|---|---|\n"
    (row,) = check_table(header + "| $|X|$ | $|X|\\, X^{-T}$ |\n", where="X: n×n")
    assert row.expression == "det(X)" and row.status == "verified", row.text()
    (row,) = check_table(header + "| $\\mathbf{1}^T|X|$ | $\\operatorname{sign}(X)$ |\n", where="X: n")
    assert row.expression == "𝟏' abs(X)" and row.status == "verified", row.text()  # a vector: entry by entry


@pytest.mark.parametrize("cell, text", [
    (r"$\operatorname{erf}'(\mathbf{x})$", "erf'(x)"),
    (r"$\tanh'(x)$", "tanh'(x)"),
    (r"$\operatorname{relu}'(\mathbf{z})$", "relu'(z)"),
])
def test_the_derivative_of_a_named_function_reads(cell, text):
    """f′ written after a function's LaTeX name is that function's derivative (it was
    'the function has no argument')."""
    assert latex_to_matcalc(cell) == text
    assert matcalc.check("sum(erf(x))", "x", latex_to_matcalc(r"$\operatorname{erf}'(\mathbf{x})$")).status == "verified"
