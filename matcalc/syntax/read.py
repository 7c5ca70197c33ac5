"""Text → syntax tree: the passes in order.

1. The text's bounds are checked and its zero-width characters removed
   (:mod:`~matcalc.syntax.source`); Lark parses it with the grammar
   (:mod:`~matcalc.syntax.grammar`).
2. Letters written together become products, functions written without parentheses
   their calls (:mod:`~matcalc.syntax.rewrite`), and every name is resolved
   (:mod:`~matcalc.syntax.names`).
3. The tree builder maps each grammar alias to a node, inferring sizes as it goes
   (:mod:`~matcalc.syntax.builder`, :mod:`~matcalc.syntax.products`), once per reading
   that the search tries (:mod:`~matcalc.syntax.readings`).
4. Sizes used as numbers are tied to sizes of the expression and the tree is rebuilt
   with every size known (:mod:`~matcalc.syntax.sizes`); what the reading assumed is said
   in words (:func:`~matcalc.syntax.readings.assumptions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lark.exceptions import UnexpectedInput

from ..declare import Declarations, FuncDecl, parse_where
from ..errors import MatcalcError, ParseError, Span
from ..nodes import Apply, Expr, Jac, Var
from .grammar import parser
from .names import Names
from .readings import assumptions, better_reading, first_reading, with_letters
from .rewrite import split_letter_products
from .sizes import ground, tie_sizes
from .source import check_depth, check_input_bounds, node_spans, original_span, syntax_error, visible


class Parsed:
    """What :func:`parse_tree` returns: the tree, and the declarations it was read with."""

    __slots__ = ("tree", "decls", "text", "shapes", "functions", "assumptions", "spans")

    def __init__(self, tree: Expr, decls: Declarations, text: str, shapes: dict[str, tuple],
                 functions: dict[str, FuncDecl], assumptions: list[str] | None = None,
                 spans: dict[Expr, Span] | None = None):
        self.tree = tree
        #: where each node of the tree is in ``text`` (positions are not stored on nodes)
        self.spans = spans or {}
        self.decls = decls
        self.text = text
        self.shapes = shapes
        self.functions = functions
        #: what the reading assumed that the expression did not force, in words
        self.assumptions = assumptions or []


def parse_tree(text: str, where: str | Mapping[str, object] | Declarations | None = None,
               expect: tuple | None = None) -> Parsed:
    """Parse ``text`` with the declarations ``where`` into a typed tree.

    Raises :class:`ParseError` (bad syntax, with the position), :class:`ShapeError`
    (shapes that cannot agree, naming the operation and both shapes) or
    :class:`DeclarationError`.  ``expect``: a shape that the expression's unknown sizes
    are unified with where they can be (a claimed ``I`` gets the size of the answer).

    Zero-width characters (pasted from web pages) are removed first; positions in the
    tree and in errors are positions in ``text`` as given.
    """
    decls = parse_where(where)
    if not isinstance(text, str):
        raise ParseError(f"an expression is a string such as \"x' A x\", not {type(text).__name__}", None)
    shown, positions = visible(text)
    try:
        parsed = _parse_visible(shown, decls, expect)
    except MatcalcError as err:
        if positions is not None:
            err.span = original_span(err.span, positions)
            err.source = text
        raise
    if positions is not None:
        parsed.spans = {n: original_span(span, positions) for n, span in parsed.spans.items()}  # type: ignore[misc]
        parsed.text = text
    return parsed


def _parse_visible(text: str, decls: Declarations, expect: tuple | None) -> Parsed:
    if not text.strip():
        raise ParseError("the expression is empty", (0, 0), text)
    check_input_bounds(text)
    third = re.search(r"[A-Za-zα-ωΑ-Ωℓ][A-Za-z0-9α-ωΑ-Ω_₀-₉]*(?:['′’]{3,}|″['′’]|['′’]″|‴)(?=\s*\()", text)
    if third:  # f‴(x), three primes: not (f″)ᵀ x, silently
        raise ParseError(f"'{third.group(0)}(…)' would be a third derivative, which matcalc does not have "
                         "(f′(x) and f″(x) are the derivatives of an elementwise f)", third.span(), text)
    try:
        lark_tree, letters = split_letter_products(parser().parse(text), decls)
        try:
            names = Names(lark_tree, decls, said=tuple(letters))
        except MatcalcError as err:
            raise with_letters(err, letters).with_source(text) from None
        reading = first_reading(lark_tree, text, decls, names, expect, letters)
    except UnexpectedInput as exc:
        raise syntax_error(exc, text) from None
    except RecursionError:  # a chain the bracket scan does not count (x^2^2^2…): still clean
        raise ParseError(
            "the expression is nested too deeply for matcalc (a chain of thousands of postfix "
            "operators such as x^2^2^2…)", None, text,
        ) from None
    reading = better_reading(reading, lark_tree, text, expect)
    try:
        tie_sizes(reading.tree, reading.u, reading.fresh, reading.scope)
    except MatcalcError as err:
        raise err.with_source(text) from None
    tree = ground(reading.tree, reading.u, reading.fresh)
    check_depth(tree, text)
    spans = node_spans(reading.tree, tree)
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    functions = reading.scope.functions()
    for n in tree.walk():  # vector functions: the size of their values, as inferred
        if isinstance(n, (Apply, Jac)) and n.out is not None:
            functions[n.name] = FuncDecl("vector", n.out)
    said = assumptions(tree, reading, spans, text)
    return Parsed(tree, decls, text, dict(sorted(shapes.items(), key=lambda kv: natural_order(kv[0]))), functions,
                  said, spans)


def natural_order(name: str) -> tuple:
    """Names in the order a reader expects: W2 before W10, b_2 before b_10."""
    return tuple((0, int(part)) if part.isascii() and part.isdigit() else (1, part)
                 for part in re.split(r"([0-9]+)", name) if part)
