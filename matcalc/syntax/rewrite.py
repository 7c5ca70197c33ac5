"""Two rewrites of the Lark parse tree, made before any name is resolved:

- **letters written together** are a product of the letters (``x'Ax`` is xᵀ A x) when the
  word is no declared name, function, constant or Greek word (:func:`split_letter_products`);
- **functions written without parentheses**: ``log det X`` and ``log det(X)`` are the row of
  the joined name (logdet), ``log|X|`` is log of the bars (:func:`rewrite_juxtaposed`).
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Tree
from lark.tree import Meta

from .. import functions as F
from ..declare import KEYWORDS, Declarations
from ..errors import ParseError
from .words import CONSTANTS, FILLED, GREEK_WORDS, NODE_CALLS, function_word

# ---------------------------------------------------------------- letters written together

#: postfix trees: their operator binds to the last letter of a word (``Ax'`` is A xᵀ)
_POSTFIX_TREES = ("transpose", "power", "elementwise_power")

_LETTERS = re.compile(r"[A-Za-zα-ωΑ-Ωℓ]{2,}")


def is_letter_product(name: str, decls: Declarations) -> bool:
    """Is the undeclared ``name`` a product of its letters (``Ax`` = A x)?  Only a name
    of two or more letters and nothing else (no digit, prime or subscript: ``W1``,
    ``x_i``, ``W_q`` stay names), that is not declared (as a variable, a function or a
    size), not a function or a constant, and not a Greek word (``lambda``, ``Sigma``,
    ``eps``)."""
    if not _LETTERS.fullmatch(name) or name in decls.variables or name in decls.functions:
        return False
    if name in decls.dim_symbols() or name in CONSTANTS or name in NODE_CALLS or name in FILLED:
        return False
    if name.lower() in GREEK_WORDS or name.lower() in KEYWORDS or F.lookup(name) is not None or name in F.names():
        return False  # (a declaration's word in an expression is an error of its own: x : scalar)
    return not (name[0] == "d" and name[1:] in decls.variables)  # dX of a declared X is its differential


def split_letter_products(tree: Any, decls: Declarations) -> tuple[Any, list[str]]:
    """Every undeclared name made of letters only (:func:`is_letter_product`) rewritten as
    the product of its letters, as notes write products (``x'Ax`` is xᵀ A x, ``y'Bz`` is
    yᵀ B z); a postfix operator on the word binds to its last letter (``Ax'`` is A xᵀ).
    Returns the tree (a new root where the whole expression was such a name) and, for the
    output, one sentence per word so read."""
    if isinstance(tree, Token):
        return tree, []
    parent: dict[int, Tree] = {}
    hits: list[Tree] = []
    for sub in tree.iter_subtrees_topdown():
        for k in sub.children:
            if isinstance(k, Tree):
                parent[id(k)] = sub
        if sub.data == "name" and isinstance(sub.children[0], Token) \
                and is_letter_product(str(sub.children[0]), decls):
            hits.append(sub)
    readings: dict[str, str] = {}
    for leaf in hits:
        tok = leaf.children[0]
        word = str(tok)
        letters = [_letter(tok, i) for i in range(len(word))]
        top, inner = leaf, Tree("name", [letters[-1]], _meta(letters[-1], letters[-1]))
        while id(top) in parent and parent[id(top)].data in _POSTFIX_TREES and parent[id(top)].children[0] is top:
            up = parent[id(top)]
            inner = Tree(up.data, [inner, *up.children[1:]], _meta(letters[-1], up.children[-1]))
            top = up
        steps = [Tree("step_mul", [Tree("name", [t], _meta(t, t))], _meta(t, t)) for t in letters[1:-1]]
        steps.append(Tree("step_mul", [inner], inner.meta))
        product = Tree("product", [Tree("name", [letters[0]], _meta(letters[0], letters[0])), *steps],
                       _meta(letters[0], top if top is not leaf else letters[-1]))
        up = parent.get(id(top))
        if up is None:
            tree = product
        else:
            up.children[up.children.index(top)] = product
        spelled = " ".join(word)
        readings.setdefault(word, f"{word} is read as the product {spelled} (letters written together are a "
                                  f"product; to use {word} as one name, declare it: --where \"{word}: m×n\")")
    return tree, list(readings.values())


def _letter(tok: Token, i: int) -> Token:
    """The ``i``-th letter of a name token, as a name token of its own at its position."""
    out = Token.new_borrow_pos("NAME", str(tok)[i], tok)
    out.start_pos, out.end_pos = tok.start_pos + i, tok.start_pos + i + 1
    out.column, out.end_column = tok.column + i, tok.column + i + 1
    out.end_line = tok.line
    return out


def _meta(first: Any, last: Any) -> Meta:
    meta = Meta()
    meta.empty = False
    a = first if isinstance(first, Token) else first.meta
    b = last if isinstance(last, Token) else last.meta
    meta.start_pos, meta.end_pos = a.start_pos, b.end_pos
    meta.line, meta.column = a.line, a.column
    meta.end_line, meta.end_column = b.end_line, b.end_column
    return meta


# ---------------------------------------------------------------- juxtaposed functions


def rewrite_juxtaposed(tree: Any, decls: Declarations) -> None:
    """``log det X``, ``log det(X)`` → joined_call(log, det, X): the table's row of the
    joined name (logdet); ``log|X|`` → bars_call(log, |X|) (log of det X is logdet, see
    :meth:`~matcalc.syntax.calls.CallBuilder.bars_call`).  Only where the joined row exists or the argument is between bars: any
    other function name without parentheses stays an error (``tr A B`` is not guessed)."""
    for chain in list(tree.iter_subtrees()):
        if chain.data != "product":
            continue
        kids = chain.children
        i = 0
        while i < len(kids) - 1:
            wrappers: list[Tree] = []  # −log|X|: the sign wraps the first factor
            f = kids[i] if i == 0 else kids[i].children[0] if kids[i].data == "step_mul" else None
            while i == 0 and isinstance(f, Tree) and f.data in ("neg", "pos"):
                wrappers.append(f)
                f = f.children[-1]
            word = _function_word(f, decls)
            nxt = kids[i + 1]
            new, used = _juxtaposed(word, nxt.children[0], kids[i + 2:], decls) \
                if word is not None and nxt.data == "step_mul" else (None, 0)
            if new is None:
                i += 1
                continue
            applied = Tree(new[0], new[1], _meta(f, new[1][-1]))
            for w in wrappers:
                w.meta.end_pos, w.meta.end_line, w.meta.end_column = \
                    applied.meta.end_pos, applied.meta.end_line, applied.meta.end_column
            if wrappers:
                wrappers[-1].children[-1] = applied
                applied = wrappers[0]
            kids[i:i + 2 + used] = [applied if i == 0 else Tree("step_mul", [applied], _meta(f, new[1][-1]))]
            i += 1


def _function_word(t: Any, decls: Declarations) -> Token | None:
    if isinstance(t, Tree) and t.data == "name" and function_word(str(t.children[0]), decls) is not None:
        return t.children[0]
    return None


def _juxtaposed(word: Token, g: Any, rest: list, decls: Declarations) -> tuple[tuple[str, list] | None, int]:
    """The tree for ``word g …`` and how many further steps of the product it takes."""
    f = function_word(str(word), decls)
    assert f is not None
    if isinstance(g, Tree) and g.data == "det_or_abs":
        return ("bars_call", [word, g]), 0
    if isinstance(g, Tree) and g.data == "call" and len(g.children[1].children) == 1:
        inner = g.children[0]
        if _joined(f, str(inner), decls):
            return ("joined_call", [word, inner, g.children[1].children[0]]), 0
    second = _function_word(g, decls)
    if second is not None and _joined(f, str(second), decls) and rest and rest[0].data == "step_mul":
        if len(rest) > 1 and rest[1].data == "step_mul":  # log det X Y: of X, or of X Y?
            raise ParseError(f"'{word} {second} …' followed by a product is ambiguous: write "
                             f"{word} {second}(…) with parentheses", (word.start_pos, rest[1].meta.end_pos))
        return ("joined_call", [word, second, rest[0].children[0]]), 1
    return None, 0


def _joined(f: F.Function, g_name: str, decls: Declarations) -> F.Function | None:
    g = function_word(g_name, decls)
    return F.lookup(f.name + g.name) if g is not None else None
