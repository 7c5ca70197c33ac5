"""The rewriting drivers own termination: a pass that does not settle is an error."""

from __future__ import annotations

import pytest

import matcalc
from matcalc.rules import canon
from matcalc.strategies import NoFixpoint, first, fixpoint


def test_fixpoint_returns_the_settled_value():
    assert fixpoint(lambda n: min(n + 1, 5), 0) == 5


def test_a_fixpoint_that_does_not_settle_raises_instead_of_stopping_silently():
    with pytest.raises(NoFixpoint, match="did not settle after 3 rounds"):
        fixpoint(lambda n: n + 1, 0, "counting", max_rounds=3)
    assert isinstance(NoFixpoint("x"), matcalc.MatcalcError)


def test_first_tries_rules_in_order():
    rule = first(lambda x: None, lambda x: x * 2, lambda x: x * 3)
    assert rule(5) == 10
    assert first(lambda x: None)(5) is None


def test_two_rule_sets_not_a_flag():
    """Distribution is a rule of the expanding set only; the normalising set keeps sums."""
    assert canon.NORMALISING is not canon.EXPANDING
    e = matcalc.parse("(A + B) x").tree
    assert matcalc.api.to_text(canon.normal_form(e)) == "A x + B x"
    assert matcalc.api.to_text(canon.simplified(e)) == "(A + B) x"


def test_a_canonical_form_is_a_fixpoint():
    for text in ["x' A x", "tr(A X B X')", "sum(log(σ(X w)))", "(A + A') x + A x"]:
        e = canon.canonical(matcalc.parse(text).tree)
        assert canon.canonical(e) == e, text
