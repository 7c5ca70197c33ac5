"""Every resource a user can name has a bound (matcalc/limits.py) and a clean error
beyond it; all work inside ``deadline(seconds)`` is bounded by the time limit."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest

import matcalc
from matcalc import limits
from matcalc.errors import MatcalcError, ParseError, ShapeError, TimeLimitError
from matcalc.limits import deadline, remaining, uninterrupted, valid_timeout
from matcalc.nodes import Identity, MatPow, Num, Power


def _parse_error(text: str, where: str | None = None) -> ParseError:
    with pytest.raises(ParseError) as info:
        matcalc.parse(text, where)
    err = info.value
    assert err.span is not None and "^" in str(err)  # where, with a caret
    return err


# -- number literals ---------------------------------------------------------------------------


def test_a_number_with_too_many_digits_is_a_parse_error():
    err = _parse_error("1" * 5000 + " x")
    assert "5,000 digits" in err.message and str(limits.MAX_DIGITS) in err.message
    assert err.span == (0, 5000)


@pytest.mark.parametrize("text", ["1e5000 x", "x / 1e-5000", "1e999999999 x", "x^1e400", "x.^(-1e99999)"])
def test_a_power_of_ten_beyond_the_bound_is_a_parse_error(text):
    with deadline(60):  # a hang guard, not a speed target
        err = _parse_error(text)
    assert "power of ten" in err.message and str(limits.MAX_DECIMAL_EXPONENT) in err.message


def test_numbers_within_the_bounds_are_exact():
    e = matcalc.parse(f"{'9' * limits.MAX_DIGITS} x + 1e{limits.MAX_DECIMAL_EXPONENT} x + 1e-300 x")
    nums = sorted(n.value for n in e.tree.walk() if isinstance(n, Num))
    assert nums[-1] == 10 ** 300 and nums[0] == pytest.approx(0) and nums[0] > 0
    assert f"{'9' * limits.MAX_DIGITS}" in str(e)


def test_a_huge_computed_number_prints_exactly():
    e = matcalc.parse(" ".join(["1e300"] * 16) + " x")  # 10^4800: past int's default str limit
    assert str(e).startswith("1" + "0" * 4800 + " x")


# -- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("I_{-1} x", "'-1' is not a size"), ("I_{0}", "the size 0"), ("I_{1.5}", "'1.5' is not a size"),
    ("K_{ , }", "an empty size"), ("K_{m,n,p}", "takes 2 sizes, not 3"),
    ("ones_{99999999999}", "from 1 to 1,000,000"), ("𝟎_{0,3}", "the size 0"), ("unvec_{0,n}(a)", "the size 0"),
    ("zeros_{1000001,2}", "from 1 to 1,000,000"), ("I₀ x", "the size 0"),
])
def test_sizes_are_positive_whole_numbers_or_names(text, words):
    err = _parse_error(text)
    assert words in err.message


def test_valid_sizes_are_read():
    assert matcalc.parse("I_{3} x").shape == (3, 1)
    assert str(matcalc.parse("K_{m,n} vec(X)", "X: m×n").shape[0]) == "m·n"
    assert matcalc.parse("𝟎_{2,3}").shape == (2, 3)
    assert matcalc.parse(f"ones_{{{limits.MAX_SIZE}}}").shape == (limits.MAX_SIZE, 1)


# -- powers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["X^999999999", "tr(X^999999999)", "X^-99999", "X^65", "X⁹⁹"])
def test_a_matrix_power_beyond_the_bound_is_a_clean_error(text):
    with deadline(60):  # a hang guard, not a speed target
        err = _parse_error(text)
    assert f"|k| ≤ {limits.MAX_MATRIX_POWER}" in err.message


def test_the_largest_matrix_power_differentiates_quickly():
    with deadline(60):  # a hang guard, not a speed target
        r = matcalc.diff(f"tr(X^{limits.MAX_MATRIX_POWER})", "X")
        assert str(r.gradient) == f"{limits.MAX_MATRIX_POWER} (Xᵀ)⁶³"


def test_a_scalar_power_needs_no_expansion():
    with deadline(60):  # a hang guard, not a speed target
        r = matcalc.diff("x^99999", "x")
        assert str(r.gradient) == "99999 x⁹⁹⁹⁹⁸"
        assert str(matcalc.diff("λ^99999", "λ").gradient) == "99999 λ⁹⁹⁹⁹⁸"
    assert isinstance(matcalc.parse("x^99999").tree, Power)


def test_a_declared_vector_has_no_power():
    with pytest.raises(ShapeError, match="square"):
        matcalc.parse("x^2", "x: n")


def test_x_to_the_zero_is_the_identity():
    e = matcalc.parse("X^0")
    assert e.tree == MatPow(e.tree.base, 0) and e.shape == ("m", "m")
    r = matcalc.diff("det(X^0)", "X")  # SymPy issue 28708: the gradient of det(X⁰) is 0
    assert str(r.gradient) == "𝟎_{m,m}"
    assert matcalc.diff("tr(X⁰ A)", "A").gradient.tree == Identity("m")
    with pytest.raises(ShapeError, match="square"):
        matcalc.parse("X^0", "X: m×n")
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(matcalc.parse("X^0").evaluate(X=x), np.eye(2))


# -- input length, flat sums and products, nesting -----------------------------------------------


def test_an_input_longer_than_the_bound_is_a_clean_error():
    with pytest.raises(ParseError, match="100,001 characters"):
        matcalc.parse("x" + " " * limits.MAX_INPUT_CHARS)


def test_a_long_flat_sum_parses():
    # was quadratic (6,000 terms: 34 s) and a RecursionError at 10,000; how long it takes
    # is measured in benchmarks/limits.py: the deadline here only stops a hang
    with deadline(60):
        e = matcalc.parse(" - ".join(["x"] * 10_000))
        assert len(e.tree.terms) == 10_000
        assert len(matcalc.parse(" + ".join(["x"] * 20_000)).tree.terms) == 20_000


def test_a_long_flat_product_parses():
    with deadline(60):
        assert len(matcalc.parse(" ".join(["A"] * 10_000)).tree.factors) == 10_000


def test_sums_and_products_keep_their_meaning():
    # a 1×1 product multiplies what follows as a scalar: (xᵀ y) A
    e = matcalc.parse("x' y A")
    assert len(e.tree.factors) == 2 and e.tree.factors[0].is_scalar and e.shape[1] != 1
    assert str(matcalc.parse("x' y z' w")) == "(xᵀ y) zᵀ w"
    assert str(matcalc.parse("a - b + c - (d - e)")) == "a − b + c − (d − e)"
    assert str(matcalc.parse("2 x 3 / 4 ⊙ y ./ z")) == "3 (x ⊙ y ./ z) / 2"  # left to right, the number first
    with pytest.raises(ShapeError) as info:  # the error names the sum so far and the next term
        matcalc.parse("a + b + C", "a: n, C: n×n")
    assert info.value.message.startswith("sum: 'a + b' is n×1 and 'C' is n×n")


@pytest.mark.parametrize("make", [
    lambda n: "(" * n + "x" + ")" * n,
    lambda n: "sin(" * n + "x" + ")" * n,
    lambda n: "- " * n + "x",
    lambda n: "x" + "'" * n,
])
def test_nesting_has_a_bound_checked_before_parsing(make):
    n = limits.MAX_NESTING
    assert matcalc.parse(make(n)).tree is not None
    err = _parse_error(make(n + 1))
    assert "nested too deeply" in err.message and f"{n:,}" in err.message


def test_a_deep_network_parses_and_differentiates():
    layers = 400
    with deadline(60):  # a hang guard, not a speed target
        e = matcalc.parse("tanh(W " * layers + "x" + ")" * layers)
    assert e.shapes["W"] == "m×m"
    r = matcalc.diff("tanh(W " * 30 + "x" + ")" * 30, "W")
    assert r.differential is not None


# -- evaluate ------------------------------------------------------------------------------------


def test_evaluate_refuses_arrays_beyond_the_bound_before_allocating():
    with pytest.raises(matcalc.EvaluationError, match="1,000,000,000,000 entries"):
        matcalc.parse("sum(ones_{1000000} ones_{1000000}')").evaluate()
    with pytest.raises(ParseError):
        matcalc.parse("sum(ones_{99999999999})")
    with pytest.raises(matcalc.EvaluationError, match="from 1 to 1,000,000"):
        matcalc.parse("sum(ones_n)").evaluate(dims={"n": 10 ** 12})
    with pytest.raises(matcalc.EvaluationError, match="entries"):
        matcalc.parse("sum(ones_n ones_m')").evaluate(dims={"n": 10 ** 6, "m": 10 ** 6})
    assert matcalc.parse("sum(ones_{1000})").evaluate() == 1000.0


# -- the time limit ---------------------------------------------------------------------------------


def _spin() -> None:
    while True:
        pass


def test_deadline_raises_a_time_limit_error():
    with pytest.raises(TimeLimitError) as info:
        with deadline(0.2, "differentiating"):
            _spin()
    err = info.value
    assert isinstance(err, MatcalcError) and err.kind == "time limit"
    assert "differentiating" in err.message and "0.2 s" in err.message and "--timeout" in err.message


def test_deadline_bounds_the_engine():
    text = "tanh(W " * 200 + "x" + ")" * 200  # takes far longer than the limit
    with pytest.raises(TimeLimitError):
        with deadline(0.5):
            matcalc.diff(text, "W")


def test_a_time_limit_swallowed_by_an_except_fires_again():
    swallowed = 0
    with pytest.raises(TimeLimitError):
        with deadline(0.2):
            try:
                _spin()
            except MatcalcError:  # a retry loop that catches every matcalc error
                swallowed += 1
            _spin()
    assert swallowed == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_deadlines_nest_and_restore_what_was_there():
    seen = []

    def handler(signum, frame):
        seen.append(signum)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with pytest.raises(TimeLimitError, match="inner"):
            with deadline(5, "outer"):
                with deadline(0.1, "inner"):
                    _spin()
        with pytest.raises(TimeLimitError, match="outer"):
            with deadline(0.2, "outer"):
                with deadline(5, "inner"):
                    _spin()
        with deadline(5):
            with pytest.raises(TimeLimitError, match="inner"):
                with deadline(0.1, "inner"):
                    _spin()
            left = remaining()
            assert left is not None and 4 < left <= 5
        assert remaining() is None
        assert signal.getsignal(signal.SIGALRM) is handler
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30  # the outer timer runs on
        assert not seen
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_uninterrupted_holds_the_alarm_until_the_end():
    done = []
    with pytest.raises(TimeLimitError):
        with deadline(0.1):
            with uninterrupted():
                time.sleep(0.3)
                done.append(True)
    assert done


def test_deadline_does_nothing_outside_the_main_thread():
    out = []

    def work():
        with deadline(0.01):
            time.sleep(0.1)
            out.append("finished")

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out == ["finished"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, 0, 1e12, "soon", None])
def test_a_time_limit_must_be_a_sensible_number(bad):
    with pytest.raises(ValueError):
        valid_timeout(bad)


def test_no_limit_means_no_limit():
    with deadline(None):
        time.sleep(0.01)
    assert valid_timeout("2.5") == 2.5


def test_a_long_flat_hadamard_product_parses():
    with deadline(60):  # a hang guard, not a speed target
        e = matcalc.parse("a" + " ⊙ a" * 20_000)  # was 256 s
    assert len(e.tree.factors) == 20_001
    assert str(matcalc.parse("x ⊙ y ⊙ λ")) == "(x ⊙ y) λ"  # a 1×1 side makes it a product
    with pytest.raises(ShapeError, match="Hadamard product"):
        matcalc.parse("a ⊙ b ⊙ C", "a: n, C: n×n")


@pytest.mark.parametrize("chain", ["^2", "^T", ".^2"])
def test_a_long_postfix_chain_is_a_clean_error(chain):
    with pytest.raises(ParseError, match="nested too deeply"):
        matcalc.parse("λ" + chain * 20_000)
    assert matcalc.parse("λ" + chain * 200).tree is not None
