"""The command line, as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import matcalc
from matcalc.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_headline(capsys):
    code, out, err = run(capsys, "diff", "L(W x + b)", "W")
    assert code == 0 and not err
    first = out.splitlines()[0]
    assert first.startswith("∂f/∂W = ∇L(W x + b) xᵀ") and "m×n" in first and "denominator layout" in first


def test_steps(capsys):
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--steps")
    assert code == 0
    assert "product rule" in out and "identification" in out and "df = xᵀ (A + Aᵀ) dx" in out


def test_jacobian_output(capsys):
    code, out, _ = run(capsys, "diff", "A X B", "X")
    assert out.splitlines()[0].startswith("DF = Bᵀ ⊗ A")
    assert "∂F/∂X = B ⊗ Aᵀ" in out  # the denominator-layout transpose, labelled as such


def test_numerator_layout(capsys):
    code, out, _ = run(capsys, "diff", "L(W x + b)", "W", "--layout", "numerator")
    assert out.splitlines()[0].startswith("∂f/∂W = x ∇L(W x + b)ᵀ") and "numerator" in out


def test_ascii_format(capsys):
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--format", "ascii", "--steps")
    assert code == 0 and out.splitlines()[0].startswith("df/dx = (A + A') x")
    assert out.isascii(), [line for line in out.splitlines() if not line.isascii()]
    code, out, _ = run(capsys, "check", "x' A x", "x", "2 A x", "--format", "ascii")
    assert code == 1 and out.isascii()


def test_latex_format(capsys):
    code, out, _ = run(capsys, "diff", "logdet(X)", "X", "--format", "latex")
    assert code == 0 and r"X^{-\top}" in out


def test_json_reparses(capsys):
    code, out, _ = run(capsys, "diff", "L(W x + b)", "W", "--format", "json")
    data = json.loads(out)
    assert data["wrt"] == "W" and data["layout"] == "denominator"
    assert data["shapes"] == {"W": "m×n", "b": "m×1", "x": "n×1"}
    for key in ("differential", "gradient", "jacobian"):
        for form in ("text", "ascii"):
            again = matcalc.parse(data[key][form], data["where"])
            assert matcalc.api.shape_str(again.shape) == data[key]["shape"]
        assert data[key]["latex"]
    assert data["gradient"]["text"] == "∇L(W x + b) xᵀ"
    assert data["steps"][-1]["text"] == "∇L(W x + b) xᵀ"


def test_where_option(capsys):
    code, out, _ = run(capsys, "diff", "tr(A X B)", "X", "--where", "X: n×p")
    assert code == 0 and "Aᵀ Bᵀ" in out and "A: m×n" in out


def test_parse_command(capsys):
    code, out, _ = run(capsys, "parse", "tr(A X B)", "--where", "X: n x p")
    assert code == 0
    assert out.splitlines()[0].startswith("tr(A X B)")
    assert "A : m×n" in out and "B : p×m" in out


@pytest.mark.parametrize("argv, fragment", [
    (("parse", "W x +"), "ends too early"),
    (("diff", "W x", "W", "--where", "W: p×n, x: m"), "'W' is p×n"),
    (("diff", "x' A x", "y"), "not a variable"),
    (("diff", "A x", "x", "--where", "A: m×"), "declaration error"),
    (("diff", "sum(kron(A, X))", "X"), "Kronecker"),
])
def test_bad_input_exits_2_without_traceback(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and fragment in err and "Traceback" not in err


def test_parse_error_shows_caret(capsys):
    code, out, err = run(capsys, "parse", "x @ y")
    lines = err.splitlines()
    assert lines[1].strip() == "x @ y" and lines[2].index("^") == lines[1].index("@")


def test_unknown_option_exits_2(capsys):
    code, out, err = run(capsys, "diff", "x", "x", "--bogus")
    assert code == 2


def test_console_script_runs():
    """The installed `matcalc` command (or python -m matcalc)."""
    exe = shutil.which("matcalc")
    cmd = [exe] if exe else [sys.executable, "-m", "matcalc"]
    done = subprocess.run([*cmd, "diff", "L(W x + b)", "W"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "∇L(W x + b) xᵀ" in done.stdout


def test_import_does_not_import_sympy():
    code = "import sys, matcalc; matcalc.diff('x\\' A x', 'x'); print('sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
