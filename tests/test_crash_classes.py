"""Crash and hang classes that fuzzing found, each with its example and held-out members:
every input ends in an answer or a matcalc error (what, where, why), in bounded work."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

import matcalc
from matcalc.rules import canon


def run_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matcalc", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False)


# ------------------------------------------------------------------ internal errors

@pytest.mark.parametrize("text", ["x3₁", "W₁₂ x", "b_1₂", "A2₃ x3₁"])
def test_names_with_subscript_digits_parse(text):
    e = matcalc.parse(text)
    assert e.shapes


@pytest.mark.parametrize("text, fragment", [
    ("kron(a a𝟏_m)", "kron takes two arguments"),
    ("∂g(g(Iₙ))", "vector function of a vector"),
    ("kron(a a𝟏_m, B)", None),
])
def test_shape_failures_inside_the_builder_are_shape_errors(text, fragment):
    try:
        matcalc.parse(text)
    except matcalc.MatcalcError as err:
        assert fragment is None or fragment in err.message, err.message
        assert err.pretty()
    else:
        assert fragment is None


def test_a_product_whose_first_factors_become_scalars():
    e = matcalc.parse("a a 𝟏_m")  # a a: a must be a scalar, and then it multiplies 𝟏ₘ
    assert e.shapes["a"] == "1×1" and e.shape == ("m", 1)


# ------------------------------------------------------------------ hangs

def _finishes(fn, seconds: float = 60.0) -> bool:
    """Whether ``fn`` returns (or raises) within ``seconds``: only a hang reaches the bound."""
    done = threading.Event()

    def target() -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - what it raises is the caller's question
            pass
        done.set()

    threading.Thread(target=target, daemon=True).start()
    return done.wait(seconds)


@pytest.mark.parametrize("text", ["λ ⊗ I + X ⊗ I", "I ⊗ λ + I ⊗ X", "λ ⊗ I + X ⊗ I + I ⊗ Y", "tr(λ ⊗ I + X ⊗ I)"])
def test_kronecker_sizes_of_unknown_factors_settle(text):
    assert _finishes(lambda: matcalc.parse(text))
    try:
        e = matcalc.parse(text)
    except matcalc.ShapeError as err:  # sizes of products that cannot be split back: said so
        assert "declare the sizes" in err.message
    else:
        assert e.shape[0] == e.shape[1]


def test_a_run_of_one_factor_is_linear_work():
    """tr(X X ⋯ X) with k factors: the product rule gives k terms of three factors (Xᵏ), not k²."""
    for k in (10, 300):
        r = matcalc.diff("tr(" + " ".join(["X"] * k) + ")", "X")
        assert str(r.gradient) == f"{k} (Xᵀ){_sup(k - 1)}"
        assert sum(1 for _ in r.value.raw.walk()) < 3 * k + 40  # k terms of three factors: linear in k


def _sup(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def test_a_long_chain_is_simplified_in_linear_work(monkeypatch):
    """A₀ A₁ ⋯ Aₖ x: the chain's pair identities are tried O(k) times, not O(k²)."""
    calls = {"n": 0}
    pair = canon._pair_identity

    def counted(*args):
        calls["n"] += 1
        return pair(*args)

    monkeypatch.setattr(canon, "_pair_identity", counted)
    for k in (200, 800):
        calls["n"] = 0
        r = matcalc.diff(" ".join(f"A{i}" for i in range(k)) + " x", "x")
        assert r.text().startswith("DF = ")
        assert calls["n"] < 30 * k, calls["n"]


# ------------------------------------------------------------------ the command line's inputs

def test_a_table_from_a_fifo_is_bounded_by_the_time_limit(tmp_path):
    fifo = tmp_path / "table.md"
    os.mkfifo(fifo)
    done = run_cli("check", "--table", str(fifo), "--timeout", "2", timeout=120)
    assert done.returncode == 2 and "time limit" in done.stderr and "Traceback" not in done.stderr


def test_a_table_from_standard_input():
    table = "| $f$ | $\\frac{\\partial f}{\\partial x}$ |\n|---|---|\n| $a^T x$ | $a$ |\n"
    done = run_cli("check", "--table", "-", stdin=table)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 rows correct" in done.stdout


def test_standard_input_longer_than_the_bound_says_so():
    done = run_cli("parse", "-", stdin=" " * 1_000_000 + "x")
    assert done.returncode == 2 and "longer than 100,000 characters" in done.stderr
    done = run_cli("parse", "-", stdin="x" * 1_000_000)
    assert done.returncode == 2 and "longer than 100,000 characters" in done.stderr


# ------------------------------------------------------------------ messages

@pytest.mark.parametrize("args, fragment", [
    (("diff", "x' A x", ""), "is empty: give one of xᵀ A x's variables (A, x)"),
    (("diff", "1/x", "x"), "the divisor is a column vector, not a scalar"),
    (("parse", "tr(A X B"), "the '(' at position 3 is not closed (a ')' is missing)"),
    (("parse", "‖x - y"), "the '‖' at position 1 is not closed"),
    (("parse", "(x + ⟨y, z"), "the '⟨' at position 6 is not closed"),
])
def test_messages_name_the_problem(args, fragment):
    done = run_cli(*args)
    assert done.returncode == 2 and fragment in done.stderr, done.stderr
    assert "?" not in done.stderr.splitlines()[0]


def test_each_command_shows_its_own_examples():
    for command in ("hessian", "diff", "check", "codegen"):
        done = run_cli(command, "--help")
        examples = [line for line in done.stdout.splitlines() if line.strip().startswith("matcalc ")]
        assert examples and all(line.strip().startswith(f"matcalc {command} ") for line in examples), done.stdout
