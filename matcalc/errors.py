"""Errors raised by matcalc.  Every error can point at the place in the input it is about."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

Span = tuple[int, int]


class MatcalcError(Exception):
    """Base class: a message, and optionally the input text and a span in it."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, source: str | None = None, node: object = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        #: the node the error is about, when it was raised by the engine: its position is
        #: in the span table of the parse it came from (:meth:`located`)
        self.node = node

    def with_source(self, source: str) -> MatcalcError:
        if self.source is None:
            self.source = source
        return self

    def located(self, source: str, spans: dict) -> MatcalcError:
        """The error with the input text, and the position of its node in that input."""
        if self.span is None and self.node is not None:
            self.span = spans.get(self.node)
        return self.with_source(source)

    def pretty(self) -> str:
        """The message, with the input and a caret line under the offending part."""
        text = f"{self.kind}: {self.message}"
        if self.source is None or self.span is None:
            return text
        start, end = self.span
        line_start = self.source.rfind("\n", 0, start) + 1
        line_end = self.source.find("\n", start)
        line_end = len(self.source) if line_end < 0 else line_end
        line = self.source[line_start:line_end]
        col = start - line_start
        width = max(1, min(end, line_end) - start)
        return f"{text}\n  {line}\n  {' ' * col}{'^' * width}"

    def __str__(self) -> str:
        return self.pretty()


#: the command line's exit code for a check's status (2, bad input, is also a table row
#: that could not be read)
EXIT_CODES = {"verified": 0, "wrong": 1, "unreadable": 2, "unchecked": 3}


class ParseError(MatcalcError):
    kind = "parse error"


class DeclarationError(MatcalcError):
    kind = "declaration error"


class ShapeError(MatcalcError):
    kind = "shape error"


class DiffError(MatcalcError):
    """A differential, gradient or Jacobian that matcalc has no rule for."""

    kind = "cannot differentiate"


class EvaluationError(MatcalcError):
    kind = "evaluation error"


class TimeLimitError(MatcalcError):
    """The work inside :func:`matcalc.limits.deadline` ran out of time."""

    kind = "time limit"


TOO_DEEP = ("the expression is nested too deeply for matcalc: a pass over its tree ran out of Python's stack "
            "(please report it with the expression; a shallower expression works)")


def bounded(method: Callable[..., T]) -> Callable[..., T]:
    """Every pass over trees is meant to be iterative; should one still recurse, a very
    deep expression gets a clean :class:`MatcalcError`, never a RecursionError traceback."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except RecursionError:
            raise MatcalcError(TOO_DEEP) from None

    return run
