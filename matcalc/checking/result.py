"""What a check found, and the words it is reported in.  Pure Python (no NumPy, no SymPy),
so that a result can be built, pickled across the check's process boundary and printed
anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUS = {True: "verified", False: "wrong", None: "unchecked"}


@dataclass(frozen=True)
class CheckResult:
    """What a check found.  ``ok``: True (the claim is right), False (it is not), or
    None (unchecked: no verdict, ``detail`` says why).

    >>> str(CheckResult(None, "timeout", {"m": 3}, 10.0, "the SymPy check ran out of time after 10.0 s"))
    'unchecked: the SymPy check ran out of time after 10.0 s'
    """

    ok: bool | None
    method: str
    sizes: dict[str, int]
    seconds: float
    detail: str = ""
    entries: int = 0
    mismatch: dict[str, Any] | None = field(default=None)
    #: how the claim was compared at the second sizes (every symbolic size one larger):
    #: "finite differences agree at m=4, n=5", or why that was skipped
    second: str = ""

    @property
    def status(self) -> str:
        """``verified``, ``wrong`` or ``unchecked``."""
        return STATUS[self.ok]

    def sizes_text(self) -> str:
        return sizes_text(self.sizes)

    def method_text(self) -> str:
        """The method, with what was done at the second sizes: "exact; finite differences
        agree at m=4"."""
        return f"{self.method}; {self.second}" if self.second else self.method

    def __str__(self) -> str:
        if self.ok:
            entries = f"{self.entries} {'entry' if self.entries == 1 else 'entries'}"
            second = f"; {self.second}" if self.second else ""
            return (f"✓ checked with SymPy at {self.sizes_text()} ({self.method}, {entries}, "
                    f"{self.seconds:.2f} s){second}")
        if self.ok is None:
            return f"unchecked: {self.detail}"
        return f"✗ SymPy check failed at {self.sizes_text()}: {self.detail}"

    def __repr__(self) -> str:  # the text/plain form in a notebook and a REPL: the verdict in words
        return f"<CheckResult {self}>"

    def __bool__(self) -> bool:
        return self.ok is True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: status, ok, method, sizes, seconds, entries, detail."""
        return {"status": self.status, "ok": self.ok, "method": self.method_text(), "sizes": dict(self.sizes),
                "seconds": round(self.seconds, 3), "entries": self.entries, "detail": self.detail}


def timed_out(sizes: dict[str, int], seconds: float, stage: str) -> CheckResult:
    """The check ran out of time at ``stage``: unchecked."""
    return CheckResult(None, "timeout", sizes, seconds,
                       f"the SymPy check ran out of time after {seconds:.1f} s ({stage}, at {sizes_text(sizes)})")


def sizes_text(sizes: dict[str, int]) -> str:
    """m=3, n=4 (or "the sizes given" where all were declared as numbers).

    >>> sizes_text({"m": 3, "n": 4})
    'm=3, n=4'
    """
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) or "the sizes given"


def one_line(message: str, width: int = 200) -> str:
    """An exception's message on one line, at most ``width`` characters."""
    text = " ".join(message.split())
    return text if len(text) <= width else text[: width - 1] + "…"
