"""The grammar (``grammar/matcalc.lark``) and its LALR parser, whose tables Lark caches
between processes in the user's cache directory."""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import lark
from lark import Lark, Token


def grammar_text() -> str:
    """The grammar: inside the installed package, or at the top of a source checkout."""
    try:
        return resources.files("matcalc.grammar").joinpath("matcalc.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return (Path(__file__).resolve().parents[2] / "grammar" / "matcalc.lark").read_text(encoding="utf-8")


def cache_dir() -> Path | None:
    """matcalc's directory in the user's cache (``$XDG_CACHE_HOME/matcalc``, else
    ``~/.cache/matcalc``; on Windows ``%LOCALAPPDATA%\\matcalc``), created if need be;
    None when there is none that can be created (a read-only home): then nothing is cached."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("LOCALAPPDATA") if os.name == "nt" else None)
    try:
        root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
        path = root / "matcalc"
        path.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory to expand ~ to
        return None
    return path


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser.  Building its tables takes about 40 ms, so Lark's own cache
    (``cache=``) keeps them between processes, in :func:`cache_dir`: one file per grammar,
    Lark version and Python version, which Lark checks against a hash of all three before
    loading it (a stale, torn or unreadable file is rebuilt, never trusted)."""
    grammar = grammar_text()
    cache: str | bool = False
    where = cache_dir()
    if where is not None:
        key = hashlib.sha256(f"{grammar}\0{lark.__version__}\0{sys.version_info[:2]}".encode()).hexdigest()[:16]
        cache = str(where / f"grammar-{key}.lark-cache")
    return Lark(
        grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False,
        postlex=_PairBars(), cache=cache,
    )


class _PairBars:
    """Post-lexer: in ``‖x‖`` the first bar opens a norm and the next one closes it; the
    same for single bars ``|x|``, paired on their own (``‖ |x| ‖``)."""

    always_accept = ("BAR", "ABS")

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        open_ = {"BAR": False, "ABS": False}
        for tok in stream:
            if tok.type in open_:
                kind = tok.type
                tok = Token.new_borrow_pos(f"{'CLOSE' if open_[kind] else 'OPEN'}_{kind}", tok.value, tok)
                open_[kind] = not open_[kind]
            yield tok
