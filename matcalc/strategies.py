"""Generic rewriting drivers: no mathematics here.

A *rule* is one local step, ``node → node | None`` (None: the rule does not apply).  The
drivers own traversal and termination, as ``sympy/strategies`` does: :func:`first` tries
rules in order, :func:`fixpoint` repeats a whole pass until nothing changes — and says so
when it does not converge, rather than stopping silently with a half-rewritten result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .errors import MatcalcError

T = TypeVar("T")

#: rounds a fixpoint may take; every pass of matcalc's rules converges in two or three
MAX_ROUNDS = 12


class NoFixpoint(MatcalcError):
    """A rewriting pass that kept changing its result: a bug in the rules, reported as such."""

    kind = "internal error"


def first(*rules: Callable[..., T | None]) -> Callable[..., T | None]:
    """The first rule that applies (returns something other than None)."""

    def apply(*args: object) -> T | None:
        for rule in rules:
            out = rule(*args)
            if out is not None:
                return out
        return None

    apply.__doc__ = " then ".join(r.__name__ for r in rules)
    return apply


def fixpoint(step: Callable[[T], T], x: T, what: str = "rewriting", max_rounds: int = MAX_ROUNDS) -> T:
    """Apply ``step`` until the result stops changing; raise :class:`NoFixpoint` if it has
    not after ``max_rounds`` rounds."""
    for _ in range(max_rounds):
        nxt = step(x)
        if nxt == x:
            return x
        x = nxt
    raise NoFixpoint(f"{what} did not settle after {max_rounds} rounds; this is a bug in matcalc's rules, "
                     "please report the expression")


__all__ = ["first", "fixpoint", "NoFixpoint", "MAX_ROUNDS"]
