"""Printing with shared subexpressions named once: ``… where z₁ = W1 x + b1``.

The gradient of a depth-k composition is a DAG of size O(k), but printed as one tree it
repeats every inner layer inside every outer one, O(k²) characters.  :func:`share`
names each large subexpression that occurs more than once, innermost first, so that the
printed result grows linearly with k.
"""

from __future__ import annotations

from collections import Counter

from ..nodes import Expr, Var
from .text import TextPrinter

#: a repeated subexpression is named when it prints longer than this
MIN_CHARS = 16


def _subscript(i: int) -> str:
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def share(roots: list[Expr], taken: set[str], ascii: bool = False, min_chars: int = MIN_CHARS,
          only_beyond: int = 0) -> tuple[list[Expr], list[tuple[str, Expr]]]:
    """Rewrite ``roots`` with repeated large subexpressions replaced by names.

    Returns the rewritten roots and the bindings ``[(name, expression), …]``, each
    binding using only names bound before it.  Nothing is named when the roots print
    in ``only_beyond`` characters or fewer.
    """
    if only_beyond and sum(len(TextPrinter(ascii).doprint(r)) for r in roots) <= only_beyond:
        return roots, []
    uses: Counter[Expr] = Counter()
    seen: set[Expr] = set()
    stack = list(roots)
    for r in roots:
        uses[r] += 1
    while stack:  # count the parents of each node in the DAG
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for k in n.children:
            uses[k] += 1
            stack.append(k)
    printer = TextPrinter(ascii)
    shared = {
        n for n, count in uses.items()
        if count > 1 and n.children and n not in roots and len(printer.doprint(n)) > min_chars
    }
    if not shared:
        return roots, []
    base = "z" if not any(t.startswith("z") for t in taken) else "t"
    bindings: list[tuple[str, Expr]] = []
    # post-order: a shared node is bound after the shared nodes it contains
    order: list[Expr] = []
    done: set[Expr] = set()
    pending: list[tuple[Expr, bool]] = [(r, False) for r in reversed(roots)]
    while pending:
        n, post = pending.pop()
        if post:
            order.append(n)
            continue
        if n in done:
            continue
        done.add(n)
        pending.append((n, True))
        pending.extend((k, False) for k in reversed(n.children) if k not in done)
    memo: dict[Expr, Expr] = {}
    for n in order:
        kids = n.children
        new_kids = [memo[k] for k in kids]
        rebuilt = n if all(a is b for a, b in zip(new_kids, kids, strict=True)) else n.rebuild(new_kids)
        if n in shared:
            name = f"{base}{len(bindings) + 1}" if ascii else f"{base}{_subscript(len(bindings) + 1)}"
            var = Var(name, n.shape)
            bindings.append((name, rebuilt))
            memo[n] = var
        else:
            memo[n] = rebuilt
    return [memo[r] for r in roots], bindings


__all__ = ["share"]
