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
    (("diff", "f(x, y)", "x"), "2 arguments"),
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


# ------------------------------------------------------------ issue 8: arguments, time limit, exit codes


def no_traceback(err):
    return "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("argv, first", [
    (("diff", "-sum(log(σ(X w)))", "w", "--no-check"), "∂f/∂w = Xᵀ (σ(X w) − 1)"),
    (("diff", "-log(σ(z))", "z", "--layout", "numerator", "--no-check"), "DF = −diag(1 − σ(z))"),
    (("diff", "-x' x", "x", "-s", "--no-check"), "∂f/∂x = −2 x"),
    (("diff", "--no-check", "--", "-x' x", "x"), "∂f/∂x = −2 x"),          # -- still ends the options
    (("diff", "-x' x", "--no-check", "x"), "∂f/∂x = −2 x"),                # options between positionals
    (("diff", "--x' x", "x", "--no-check"), "∂f/∂x = 2 x"),                # -(-x'x)
    (("parse", "-x' A x"), "−xᵀ A x"),
    (("parse", "-W x", "-w", "W: p×n"), "−W x"),                            # -w is --where; the value is read
    (("parse", "-W x", "--where=W: p×n", "--format=ascii"), "-W x"),
])
def test_positionals_may_start_with_a_minus(capsys, argv, first):
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.splitlines()[0].startswith(first)


def test_check_with_leading_minus_claim(capsys):
    code, out, err = run(capsys, "check", "-x' x", "x", "-2 x")
    assert code == 0 and out.startswith("✓ correct: −2 x"), err


def test_option_value_starting_with_a_minus(capsys):
    """The value after an option that takes one is that option's value, whatever it starts with."""
    code, out, err = run(capsys, "parse", "x", "--where", "-x: n")
    assert code == 2 and "declaration error" in err and no_traceback(err)


@pytest.mark.parametrize("value, fragment", [
    ("nan", "positive number"), ("inf", "positive number"), ("-inf", "positive number"),
    ("-1", "positive number"), ("0", "positive number"), ("1e12", "at most 3600"),
    ("3601", "at most 3600"), ("abc", "number of seconds"), ("", "number of seconds"),
])
def test_bad_timeout_is_a_clean_error(capsys, value, fragment):
    for command in (("diff", "x' x", "x"), ("check", "x' x", "x", "2 x"), ("parse", "x")):
        code, out, err = run(capsys, *command, "--timeout", value)
        assert code == 2 and fragment in err and "--timeout" in err and no_traceback(err), (command, err)
        assert not out


def test_timeout_bounds_the_differentiation(capsys):
    code, out, err = run(capsys, "diff", "tr(X^64)", "X", "--timeout", "0.01", "--no-check")
    assert code == 2 and err.startswith("time limit:") and "--timeout" in err and not out


def _unchecked(*args, **kwargs):
    from matcalc.checking.result import CheckResult
    return CheckResult(None, "timeout", {"m": 3}, 1.0, "the SymPy check ran out of time after 1.0 s")


def test_diff_unchecked_answer_exits_3(capsys, monkeypatch):
    from matcalc.checking import sympy_oracle
    monkeypatch.setattr(sympy_oracle, "check_derivative", _unchecked)
    code, out, err = run(capsys, "diff", "x' A x", "x")
    assert code == 3 and not err
    assert out.startswith("∂f/∂x = (A + Aᵀ) x")  # the answer is given
    last = out.strip().splitlines()[-1]
    assert last.startswith("unchecked: the SymPy check ran out of time") and "not been verified" in last
    assert "?" not in last and "✓" not in out
    code, out, err = run(capsys, "diff", "x' A x", "x", "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["check"]["status"] == "unchecked" and data["check"]["ok"] is None
    assert data["gradient"]["text"] == "(A + Aᵀ) x"
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--format", "ascii")
    assert code == 3 and out.isascii() and "unchecked" in out
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--format", "latex")
    lines = out.strip().splitlines()
    assert code == 3 and lines[-1] == r"\end{aligned}" and lines[-2].startswith(r"& \text{unchecked: the SymPy check")


def test_check_unchecked_verdict_exits_3(capsys, monkeypatch):
    from matcalc.checking import verdict
    monkeypatch.setattr(verdict, "check_derivative", _unchecked)
    code, out, err = run(capsys, "check", "x' A x", "x", "(A + A') x")
    assert code == 3 and "unchecked" in out and "✓ correct" not in out, err
    code, out, _ = run(capsys, "check", "x' A x", "x", "(A + A') x", "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["status"] == "unchecked" and data["correct"] is None
    assert data["check"]["status"] == "unchecked"


def test_a_real_time_out_is_unchecked_or_a_time_limit(capsys):
    """A check that cannot finish within --timeout: the answer and "unchecked" (exit 3), or,
    if even differentiating took the time, a time-limit error (exit 2); never ✓, never long."""
    import time
    network = "x"
    for k in range(1, 17):  # 16 layers: a check of many seconds on any machine, a fast derivative
        network = f"σ(W{k} {network} + b{k})"
    start = time.monotonic()
    code, out, err = run(capsys, "diff", f"L({network})", "W1", "--timeout", "1.5")
    assert time.monotonic() - start < 4
    assert code in (2, 3) and no_traceback(err)
    if code == 3:
        assert out.startswith("∂f/∂W1 =") and out.strip().splitlines()[-1].startswith("unchecked:")
    else:
        assert err.startswith("time limit:")


def test_no_check_says_so(capsys):
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--no-check")
    assert code == 0 and out.strip().splitlines()[-1].startswith("not checked: --no-check")
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--no-check", "--format", "json")
    assert code == 0 and json.loads(out)["check"]["status"] == "not run" and json.loads(out)["check"]["ok"] is None


def test_diff_json_carries_the_check(capsys):
    code, out, _ = run(capsys, "diff", "x' A x", "x", "--format", "json")
    check = json.loads(out)["check"]
    assert code == 0 and check["status"] == "verified" and check["ok"] is True
    assert set(check) >= {"status", "ok", "method", "sizes", "seconds", "entries", "detail"}


def test_check_json_is_the_verdict(capsys):
    code, out, _ = run(capsys, "check", "x' A x", "x", "2 A x", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["status"] == "wrong" and data["correct"] is False
    assert data["answer"]["text"] == "(A + Aᵀ) x" and data["claim"]["text"] == "2 A x" and data["diagnosis"] and data["check"]["status"] == "wrong"


@pytest.mark.parametrize("argv", [
    (), ("bogus",), ("dif", "x", "x"), ("-x",), ("--where", "x: n"), ("diff",), ("diff", "x"),
    ("diff", "x", "x", "y"), ("diff", "x", "x", "--where"), ("diff", "x", "x", "--steps=yes"),
    ("diff", "x", "x", "--lay", "numerator"), ("diff", "x", "x", "--layout", "-x"),
    ("check", "--format", "latex", "x", "x", "I"), ("parse", "x", "--format", "docx"),
    ("check", "--table", "t.md", "x"), ("check", "x", "x"),
])
def test_bad_command_lines_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err and no_traceback(err), err
    assert "\ue000" not in err and "\\ue000" not in err  # the positional marks never show


def test_help_exits_0(capsys):
    for argv in (("-h",), ("--help",), ("diff", "-h"), ("check", "--help"), ("parse", "-h")):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "usage:" in out
    assert "exit codes" in run(capsys, "--help")[1]


@pytest.mark.parametrize("command", [("parse", "x' A x"), ("diff", "x' A x", "x", "--no-check"),
                                     ("check", "x' A x", "x", "(A + A') x")])
def test_every_format_of_every_command(capsys, command):
    formats = ("text", "ascii", "json") + (() if command[0] == "check" else ("latex",))
    for fmt in formats:
        code, out, err = run(capsys, *command, "--format", fmt)
        assert code == 0 and out.strip() and not err, (fmt, err)
        if fmt == "json":
            json.loads(out)
        if fmt == "ascii":
            assert out.isascii(), out


@pytest.mark.parametrize("where", [
    "x: n" * 30_000, "x: " + "9" * 5000, "x: n×n×n", "x: \x00", "x: n; A: m", "💥: n", "x: symetric",
    "x:", ":", ",,,", "x: n, x: m", "x: 0", "x: -3", "x: 1e9999", "x: (n)", "x: n\nA: m",
])
def test_odd_declarations_are_clean(capsys, where):
    code, out, err = run(capsys, "diff", "A x", "x", "--where", where, "--no-check")
    assert code in (0, 2) and no_traceback(err), err
    if code == 2:
        assert err.split(":")[0] in {"declaration error", "parse error", "shape error", "error"}


def test_very_long_expression_is_clean(capsys):
    code, out, err = run(capsys, "parse", "x + " * 60_000 + "x")
    assert code == 2 and no_traceback(err)


def test_a_short_option_with_its_choice_attached(capsys):
    assert main(["diff", "x' x", "x", "-fjson", "--no-check"]) == 0
    assert capsys.readouterr().out.lstrip().startswith("{")
    assert main(["diff", "-f(x)", "x", "--no-check"]) == 0  # an expression, not -f with "(x)"
    assert "∇f(x)" in capsys.readouterr().out


# -- the grammar is analysed once, then loaded from the user's cache -------------------------


def _python(code: str, cache_home: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)


_PARSE = "import matcalc; print(matcalc.diff(\"x' A x\", 'x').gradient)"


def test_the_grammar_is_cached_in_the_users_cache(tmp_path):
    assert _python(_PARSE, tmp_path).stdout == "(A + Aᵀ) x\n"
    files = list((tmp_path / "matcalc").iterdir())
    assert len(files) == 1 and files[0].name.startswith("grammar-") and files[0].suffix == ".lark-cache"
    written = files[0].stat().st_mtime_ns
    assert _python(_PARSE, tmp_path).stdout == "(A + Aᵀ) x\n"  # loaded, not written again
    assert files[0].stat().st_mtime_ns == written


def test_a_damaged_cache_is_rebuilt(tmp_path):
    _python(_PARSE, tmp_path)
    (cache,) = (tmp_path / "matcalc").iterdir()
    good = cache.read_bytes()
    stamp = good.split(b"\n", 1)[0]  # Lark's hash of grammar, options and versions
    for damage in (b"", good[: len(good) // 2], b"not a cache\n" + good[40:]):
        cache.write_bytes(damage)
        assert _python(_PARSE, tmp_path).stdout == "(A + Aᵀ) x\n"
        again = cache.read_bytes()  # written anew: Lark's hash line, then its tables
        assert again != damage and again.split(b"\n", 1)[0] == stamp
        written = cache.stat().st_mtime_ns
        _python(_PARSE, tmp_path)  # and loaded by the next process, not written again
        assert cache.stat().st_mtime_ns == written


def test_without_a_writable_cache_nothing_is_written(tmp_path):
    blocked = tmp_path / "a file, not a directory"
    blocked.write_text("")
    assert _python(_PARSE, blocked).stdout == "(A + Aᵀ) x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [blocked.name]


# ------------------------------------------------------------ issue 14: --version, standard input


def test_version(capsys):
    code, out, err = run(capsys, "--version")
    assert code == 0 and out.strip() == f"matcalc {matcalc.__version__}"


def test_expression_from_standard_input(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("x' A x\n"))
    code, out, err = run(capsys, "diff", "-", "x", "--no-check", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["gradient"]["text"] == "(A + Aᵀ) x"
    # a claim too, in the same way
    monkeypatch.setattr("sys.stdin", io.StringIO("2 A x\n"))
    code, out, err = run(capsys, "check", "x' A x", "x", "-")
    assert code == 1 and "(A + Aᵀ) x" in out


def test_standard_input_beyond_the_command_line_limit():
    """More than the 128 KiB one argument can carry: 9,000 terms of Greek, 90,000 characters,
    153,000 bytes of UTF-8 (a command line refuses it: 'Argument list too long')."""
    text = " + ".join(["ααα₁ᵀ x"] * 9000)
    assert len(text.encode()) > 128 * 1024 and len(text) < 100_000
    exe = shutil.which("matcalc")
    cmd = [exe] if exe else [sys.executable, "-m", "matcalc"]
    done = subprocess.run([*cmd, "diff", "-", "x", "--where", "ααα₁: n", "--no-check", "--format", "json",
                           "--timeout", "120"], input=text, capture_output=True, text=True, encoding="utf-8",
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(done.stdout)["gradient"]["text"] == "9000 ααα₁"


def test_empty_or_too_long_standard_input(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, out, err = run(capsys, "diff", "-", "x")
    assert code == 2 and "empty" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * 200_000))
    code, out, err = run(capsys, "diff", "-", "x")
    assert code == 2 and "100,000" in err and "Traceback" not in err
