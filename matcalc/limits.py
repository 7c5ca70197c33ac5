"""Bounds on every resource a user can name, in one place, and the time limit.

Each bound has a clean error beyond it (never a hang, a traceback or an allocation that
takes the machine down); the README's "Limits" section lists them.  The numbers are
generous for anything written by hand and small enough that the work they allow is
bounded: the input's length (:data:`MAX_INPUT_CHARS`) and nesting (:data:`MAX_NESTING`,
:data:`MAX_DEPTH`), the digits and exponents of number literals, matrix powers (each
Xᵏ is differentiated as k terms), the sizes written in the input, the entries an
evaluation or a check may build.  Every pass over trees is iterative, so the bounds
limit work, not the stack; ``benchmarks/limits.py`` measures how parsing grows toward them.

:func:`deadline` bounds the time of everything done inside it (parse, diff,
canonicalisation, evaluate) with ``SIGALRM``; :func:`api_bound` is the Python API's own
default bound on one call.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .errors import TimeLimitError

#: characters in one expression, claim or declaration string
MAX_INPUT_CHARS = 100_000
#: bytes read from an identity-table file (``check --table``)
MAX_TABLE_BYTES = 2_000_000
#: brackets open at once: ( [ { ‖, and calls f(
MAX_NESTING = 1_000
#: levels of the syntax tree of one expression (a call or an operation is one level: a
#: 998-layer network σ(W x + b) is 2,996 deep); every pass over trees is iterative, so
#: this bounds the work, not the stack
MAX_DEPTH = 4_000
#: digits in one number literal (before and after the point)
MAX_DIGITS = 50
#: the power of ten in a literal written with an exponent (``1e300``)
MAX_DECIMAL_EXPONENT = 300
#: a whole-number matrix power Xᵏ: |k| at most this
MAX_MATRIX_POWER = 64
#: a size written in the input (``I_{n}``, ``x: 5``) or given to ``evaluate``
MAX_SIZE = 1_000_000
#: entries of one array that ``evaluate`` or a numerical check may build
MAX_ENTRIES = 10_000_000
#: entries of one variable instantiated as a matrix of SymPy symbols by the check (a
#: declared 20×20 matrix is checked entry by entry; beyond, the check is "unchecked")
MAX_CHECK_ENTRIES = 400
#: the time limit of one command (seconds): its default and its largest value
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 3600.0
#: the Python API's own bound on one call that parses or differentiates (seconds), where
#: no time limit is in force around it (the command line sets its own)
API_TIMEOUT = 60.0


# ======================================================================================
# The time limit
# ======================================================================================


class _Budget:
    """One active :func:`deadline`: when it ends, and whether it has already fired."""

    __slots__ = ("seconds", "ends", "what", "fired", "hint")

    def __init__(self, seconds: float, what: str, hint: str):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.what = what
        self.fired = False
        self.hint = hint


#: the active deadlines of the main thread, outermost first
_STACK: list[_Budget] = []
#: the handler and timer that were in force before the outermost deadline
_SAVED: list[tuple[Any, float, float]] = []


#: a deadline that has fired fires again this often until its block is left, so that an
#: ``except`` that swallows the error (a retry loop, a ``__del__``) cannot switch it off
_REPEAT = 0.05


def _arm() -> None:
    """Set the timer to the earliest end among the active deadlines (a fired one again
    in :data:`_REPEAT` seconds)."""
    if not _STACK:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    now = time.monotonic()
    soonest = min(now + _REPEAT if b.fired else b.ends for b in _STACK)
    signal.setitimer(signal.ITIMER_REAL, max(soonest - now, 1e-4))


#: how many :func:`uninterrupted` blocks are open, and an alarm that came meanwhile
_HELD: list[Any] = [0, None]


def _on_alarm(signum: int, frame: Any) -> None:
    if _HELD[0]:  # inside uninterrupted(): raised on leaving it
        _HELD[1] = frame
        return
    _fire()


def _fire() -> None:
    now = time.monotonic()
    due = [b for b in _STACK if b.ends <= now + 1e-3]
    if not due:  # a timer left from an outer deadline: re-arm for the next one
        _arm()
        return
    budget = min(due, key=lambda b: b.ends)
    for b in due:
        b.fired = True
    _arm()
    raise TimeLimitError(time_limit_message(budget.what, budget.seconds, budget.hint))


#: how a user of the command line gives more time
CLI_HINT = "--timeout SECONDS"


def time_limit_message(what: str, seconds: float, hint: str = CLI_HINT) -> str:
    """What ran out, and how to give more time."""
    return (
        f"{what} did not finish within the time limit of {seconds:g} s; "
        f"give it more time with {hint} (at most {MAX_TIMEOUT:g})"
    )


def valid_timeout(seconds: object) -> float:
    """``seconds`` as a time limit, or a ValueError saying why it is not one."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"the time limit must be a number of seconds, not {seconds!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"the time limit must be a positive number of seconds, not {seconds!r}")
    if value > MAX_TIMEOUT:
        raise ValueError(f"the time limit is at most {MAX_TIMEOUT:g} seconds, not {seconds!r}")
    return value


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def deadline(seconds: float | None, what: str = "the computation", hint: str = CLI_HINT) -> Iterator[None]:
    """Bound the time of everything done inside: past ``seconds``, raise
    :class:`~matcalc.errors.TimeLimitError` wherever the work is.

    Deadlines nest (the earliest end wins; leaving an inner one restores the outer one's
    timer); on leaving the outermost one, the ``SIGALRM`` handler and interval timer that
    were in force before are restored (a timer that would have gone off meanwhile goes off
    at once).  ``seconds=None`` means no limit.  Outside the main thread, or where the
    platform has no ``setitimer`` (Windows), this does nothing: the work is not bounded.

    >>> with deadline(5):
    ...     _ = sum(range(10))
    """
    if seconds is None or not _can_alarm():
        yield
        return
    budget = _Budget(valid_timeout(seconds), what, hint)
    if not _STACK:
        before = signal.getitimer(signal.ITIMER_REAL)
        _SAVED.append((signal.signal(signal.SIGALRM, _on_alarm), before[0], time.monotonic()))
    _STACK.append(budget)
    try:
        _arm()
        yield
    finally:
        while True:  # an alarm during the clean-up (a fired deadline repeats) must not cut it short
            try:
                _leave(budget)
                break
            except TimeLimitError:
                continue


def _leave(budget: _Budget) -> None:
    """Take ``budget`` off the stack and re-arm (or restore what was there before); safe to
    run again if an alarm interrupts it."""
    signal.setitimer(signal.ITIMER_REAL, 0)  # nothing fires while the stack changes
    if budget in _STACK:
        _STACK.remove(budget)
    if _STACK:
        _arm()
    elif _SAVED:
        handler, left, since = _SAVED.pop()
        signal.signal(signal.SIGALRM, handler)
        if left > 0:
            signal.setitimer(signal.ITIMER_REAL, max(left - (time.monotonic() - since), 1e-4))


@contextmanager
def api_bound(seconds: float | None, what: str) -> Iterator[None]:
    """The Python API's bound on one call: ``seconds`` (:data:`API_TIMEOUT` by default), or
    none with ``None``; the default defers to a time limit already in force around the call
    (the command line's ``--timeout``)."""
    if seconds is None or (seconds == API_TIMEOUT and _STACK):
        yield
        return
    with deadline(seconds, what, hint="timeout=SECONDS"):
        yield


#: seconds a SymPy check leaves of the time it is given, so that it stops on its own (and
#: says "unchecked") before the time limit around it stops everything
CHECK_MARGIN = 0.75


def check_budget(left: float) -> float:
    """The SymPy check's own budget when ``left`` seconds remain: a margin less."""
    return max(0.05, min(left - CHECK_MARGIN, left * 0.9))


def remaining() -> float | None:
    """Seconds left before the earliest active deadline, or None without one."""
    if not _STACK:
        return None
    return max(min(b.ends for b in _STACK) - time.monotonic(), 0.0)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold off the time limit while inside (for work that must not be cut in the middle,
    such as killing and joining a child process); an alarm that came meanwhile is raised
    on leaving, if the deadline is still active."""
    _HELD[0] += 1
    try:
        yield
    finally:
        _HELD[0] -= 1
        if not _HELD[0] and _HELD[1] is not None:
            _HELD[1] = None
            if _STACK:
                _fire()
