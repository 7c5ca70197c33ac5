"""The text as given: its bounds (length, nesting, depth of the tree), the zero-width
characters removed before the grammar sees it, positions in it (spans), and the words of
errors that point into it (syntax errors, shapes quoted from the text)."""

from __future__ import annotations

import re
from typing import Any

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import MatcalcError, ParseError, ShapeError, Span
from ..limits import MAX_DEPTH, MAX_INPUT_CHARS, MAX_NESTING
from ..nodes import Expr
from ..shapes import DimProd, DimVar, Inference, describe_shape, shape_str

# -- bounds ---------------------------------------------------------------------------

_OPENS, _CLOSES = frozenset("([{⟨"), frozenset(")]}⟩")
_PREFIX = frozenset("-−+")
_POSTFIX = frozenset("'′’ᵀ⊤")


def check_input_bounds(text: str) -> None:
    """Before Lark runs: at most MAX_INPUT_CHARS characters, and at most MAX_NESTING
    brackets open at once (``(``, ``[``, ``{``, ``⟨``, a call, a norm, ``|…|``) or signs and primes in a
    row (``- - x``, ``x''``), each of which nests the syntax tree one level deeper."""
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(
            f"the expression has {len(text):,} characters; matcalc reads at most {MAX_INPUT_CHARS:,}", None
        )
    depth = run = 0
    bar_open = abs_open = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPENS:
            depth += 1
        elif ch in _CLOSES:
            depth -= 1
        elif ch == "‖" or text.startswith("||", i):
            bar_open = not bar_open
            depth += 1 if bar_open else -1
            i += 1 if ch == "‖" else 2
            run = 0
            continue
        elif ch == "|":
            abs_open = not abs_open
            depth += 1 if abs_open else -1
        if ch in _PREFIX or ch in _POSTFIX:
            run += 1
        elif not ch.isspace():
            run = 0
        if depth > MAX_NESTING or run > MAX_NESTING:
            what = "brackets open at once" if depth > MAX_NESTING else "signs or transposes in a row"
            raise ParseError(
                f"the expression is nested too deeply: more than {MAX_NESTING:,} {what} "
                f"(matcalc reads at most {MAX_NESTING:,})", (i, i + 1), text,
            )
        i += 1


def check_depth(tree: Expr, text: str) -> None:
    """At most MAX_DEPTH levels of syntax tree: a chain the bracket scan does not count
    (x^2^2^2…, thousands long) is refused here, with a clean error."""
    height: dict[int, int] = {}
    for n in tree.postorder():
        height[id(n)] = 1 + max((height[id(k)] for k in n.children), default=0)
    if height[id(tree)] > MAX_DEPTH:
        raise ParseError(
            f"the expression is nested too deeply: its syntax tree is {height[id(tree)]:,} levels deep "
            f"(matcalc reads at most {MAX_DEPTH:,}; each operator in a chain such as x^2^2^2… is a level)",
            None, text,
        )


# -- zero-width characters ------------------------------------------------------------

#: characters that take no room and are ignored (zero-width space, non-joiner, joiner,
#: byte-order mark, word joiner, soft hyphen)
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def visible(text: str) -> tuple[str, list[int] | None]:
    """The text without its zero-width characters, and where each of its characters (and
    its end) was in ``text`` (None when nothing was removed)."""
    if not _INVISIBLE.search(text):
        return text, None
    positions = [i for i, ch in enumerate(text) if not _INVISIBLE.match(ch)]
    return "".join(text[i] for i in positions), positions + [len(text)]


def original_span(span: Span | None, positions: list[int]) -> Span | None:
    """A span of the visible text as a span of the text as given (see :func:`visible`)."""
    if span is None:
        return None
    start = positions[min(span[0], len(positions) - 1)]
    end = positions[min(span[1], len(positions) - 1)] if span[1] > span[0] else start
    if span[1] > span[0]:  # end just after the last character of the span
        end = positions[min(span[1] - 1, len(positions) - 1)] + 1
    return (start, end)


# -- positions --------------------------------------------------------------------------


def meta_span(meta: Any) -> Span | None:
    """Where a Lark tree is in the text (None for an empty one)."""
    if getattr(meta, "empty", True):
        return None
    return (meta.start_pos, meta.end_pos)


def token_span(tok: Token) -> Span:
    return (tok.start_pos, tok.end_pos)


def at(node: Expr, span: Span | None) -> Expr:
    """Attach a position in the input to a node built while parsing (positions are not
    part of equality, and a grounded node never carries one: see :func:`node_spans`)."""
    if span is not None and node.span is None:
        object.__setattr__(node, "span", span)
    return node


def node_spans(raw: Expr, tree: Expr) -> dict[Expr, Span]:
    """Where each node of the grounded tree is in the input: the positions of the raw
    tree's nodes, carried over (the two trees have the same structure).  The table
    belongs to this parse: grounded nodes are shared between parses (hash-consing), so a
    position is never stored on them.  A subexpression written twice points at its first
    occurrence."""
    out: dict[Expr, Span] = {}
    stack = [(raw, tree)]
    while stack:
        a, b = stack.pop()
        if a.span is not None and b not in out:
            out[b] = a.span
        stack.extend(reversed(list(zip(a.children, b.children, strict=True))))
    return out


# -- errors -----------------------------------------------------------------------------


def located(err: MatcalcError, text: str, u: Inference) -> MatcalcError:
    """Finish an error raised while building: quote the operands and their shapes."""
    operands = getattr(err, "operands", None)
    if isinstance(err, ShapeError) and operands:
        def show(shape: tuple) -> str:
            return shape_str(tuple(_show_dim(d, u) for d in shape))  # type: ignore[arg-type]

        quoted = []
        for span, shape in operands:
            what = f"'{text[span[0]:span[1]]}'" if span else "an operand"
            quoted.append(f"{what} is {show(shape)}")
        err.message = f"{err.op}: {' and '.join(quoted)}; {err.why}"  # type: ignore[attr-defined]
        if any(isinstance(d, DimProd) for _, shape in operands for d in shape):
            err.message += (
                " (the sizes of a Kronecker product or of vec(…) are products, which matcalc cannot split "
                "back into factors: declare the sizes of the matrices involved, e.g. --where \"A: m×n, B: p×q\")"
            )
        if err.span is None and operands[0][0] is not None:
            first, last = operands[0][0], operands[-1][0] or operands[0][0]
            err.span = (first[0], last[1])
    err.args = (err.message,)
    return err.with_source(text)


def _show_dim(d: Any, u: Inference) -> Any:
    d = u.resolve(d)
    return "?" if isinstance(d, DimVar) else d


def described(shape: tuple) -> str:
    """Words for a shape whose sizes may not be known yet: a column vector, not one of
    length ?."""
    if any(isinstance(d, DimVar) for d in shape):
        rows, cols = shape
        if cols == 1:
            return "column vector"
        if rows == 1:
            return "row vector"
        return "matrix"
    return describe_shape(shape)


_CLOSING = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "‖": "‖", "|": "|"}


def _unclosed(text: str) -> tuple[str, int] | None:
    """The innermost bracket left open at the end of ``text``, and its position."""
    stack: list[tuple[str, int]] = []
    closers = {v: k for k, v in _CLOSING.items()}
    for i, ch in enumerate(text):
        if ch in "‖|":  # bars pair on their own: the first opens, the next closes
            if stack and stack[-1][0] == ch:
                stack.pop()
            else:
                stack.append((ch, i))
        elif ch in _CLOSING:
            stack.append((ch, i))
        elif ch in closers and stack and stack[-1][0] == closers[ch]:
            stack.pop()
    return stack[-1] if stack else None


def syntax_error(exc: UnexpectedInput, text: str) -> ParseError:
    """Lark's error in words: what was unexpected, where, and what to write instead."""
    pos = getattr(exc, "pos_in_stream", None)
    if pos is None:
        pos = len(text)
    if isinstance(exc, UnexpectedCharacters):
        msg = f"unexpected character '{text[pos]}'"
        span = (pos, pos + 1)
        if text[pos] == "\\":  # x^\top, \|x\|: LaTeX typed on the command line
            msg += (": LaTeX commands are read in tables (matcalc check --table); in an expression write "
                    "xᵀ or x' for x^\\top, ‖x‖ for \\|x\\|, ⊙ or .* for \\odot, and names without a backslash")
        elif text[pos] == "‘":
            msg += ": for a transpose write ' or ’ (or ᵀ)"
    elif isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        msg = "the expression ends too early"
        pos = len(text.rstrip())
        span = (pos, pos + 1)
        unclosed = _unclosed(text)
        if unclosed is not None:  # tr(A X B: name what is missing, and where it was opened
            opened, where = unclosed
            msg += f": the '{opened}' at position {where + 1} is not closed (a '{_CLOSING[opened]}' is missing)"
    elif isinstance(exc, UnexpectedToken):
        tok = exc.token
        msg = f"unexpected '{tok}'"
        if tok.type in ("CLOSE_BAR", "OPEN_BAR"):
            msg = "unbalanced norm bars ‖…‖"
        elif tok.type in ("CLOSE_ABS", "OPEN_ABS"):
            msg = "unbalanced bars |…|"
        span = (tok.start_pos, tok.end_pos)
    else:  # pragma: no cover - lark has no other kinds
        msg, span = "syntax error", (pos, pos + 1)
    return ParseError(msg, span, text)
