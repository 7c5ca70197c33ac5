"""Printing with shared subexpressions named once: ``… where z₁ = W1 x + b1``.

The gradient of a depth-k composition is a DAG of O(k) nodes, but printed as one tree it
repeats every inner layer inside every outer one: O(k²) characters.  A result whose text
would be longer than :data:`LONG` characters is printed instead with each large
subexpression that occurs more than once named, innermost first, so that its printed
size grows linearly with k:

    (tanh′(W1 x) ⊙ (W2ᵀ (tanh′(W2 tanh(W1 x)) ⊙ (W3ᵀ (tanh′(z₁) ⊙ (W4ᵀ (tanh′(z₂) ⊙ …)))))) xᵀ
      where z₁ = W3 tanh(W2 tanh(W1 x))
            z₂ = W4 tanh(z₁)
            …

Small results print exactly as the plain printers print them.  Everything here is
linear in the number of distinct nodes: which result is long, and which repeated
subexpression is large, is decided from node counts (each node prints at least half a
character of its own), printing only trees that are small.

:class:`Sharing` decides once what to name; it then spells the names for text
(``z₁``), ASCII (``z1``) and LaTeX (``z_{1}``, from the text name), so that the three
forms of a result name the same subexpressions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..nodes import Expr, Var
from ..shapes import shape_json, shape_str
from .latex import latex_name, to_latex
from .text import TextPrinter, to_text

#: a result is printed with named subexpressions when its full text would be longer
LONG = 400
#: a repeated subexpression is named when it prints longer than this
MIN_CHARS = 16
#: every node prints at least 1/NODES_PER_CHAR characters of its own (a sum its " + ",
#: a product its spaces, a call its name and parentheses; the −1 of −X none, but its
#: product one): a tree of more than NODES_PER_CHAR·c nodes prints longer than c
NODES_PER_CHAR = 2

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
#: the first letter that no name of the expression starts with names the bindings
_LETTERS = "ztuvwyqrsabcdefghijklmnopx"


def _walk(roots: Sequence[Expr]) -> tuple[list[Expr], dict[int, int]]:
    """Every node under ``roots`` once, children before parents, and the number of
    parents of each (a root counts once more for each time it is a root); iterative, so
    that deep trees can be walked."""
    order: list[Expr] = []
    uses: dict[int, int] = {}
    done: set[int] = set()
    for r in roots:
        uses[id(r)] = uses.get(id(r), 0) + 1
        stack: list[tuple[Expr, tuple[Expr, ...] | None]] = [(r, None)]
        while stack:
            n, kids = stack.pop()
            if kids is not None:  # its children are done
                done.add(id(n))
                order.append(n)
            elif id(n) not in done:
                kids = n.children
                stack.append((n, kids))
                for k in reversed(kids):
                    uses[id(k)] = uses.get(id(k), 0) + 1
                    if id(k) not in done:
                        stack.append((k, None))
    return order, uses


def expanded_sizes(order: Iterable[Expr], cap: int) -> dict[int, int]:
    """The number of nodes of each tree in ``order`` (children before parents), shared
    subtrees counted each time they occur, capped at ``cap``: linear in the DAG."""
    size: dict[int, int] = {}
    for n in order:
        size[id(n)] = min(cap, 1 + sum(size[id(k)] for k in n.children))
    return size


def is_long(roots: Sequence[Expr], chars: int = LONG) -> bool:
    """Whether ``roots``, printed in full, take more than ``chars`` characters: a small tree
    is printed and measured; a larger one is long without printing it (linear)."""
    cap = NODES_PER_CHAR * chars + 1
    size = expanded_sizes(_walk(roots)[0], cap)
    if sum(size[id(r)] for r in roots) >= cap:
        return True
    return sum(len(TextPrinter().doprint(r)) for r in roots) > chars


class Sharing:
    """Which subexpressions of ``roots`` a printed result names, decided once.

    ``taken``: the names the expression uses (variables and functions); the bindings are
    named with the first letter none of them starts with (z, else t, …), so that a binding
    name never reads as one of the expression's names.  Nothing is named when the roots
    print in ``only_beyond`` characters or fewer (0: always look for shared parts).
    """

    def __init__(self, roots: Sequence[Expr], taken: Iterable[str] = (), min_chars: int = MIN_CHARS,
                 only_beyond: int = 0):
        self.roots = tuple(roots)
        order, uses = _walk(self.roots)
        #: the named nodes, innermost first (a binding uses only names bound before it)
        self.named: list[Expr] = []
        taken = set(taken)
        self.letter = next((a for a in _LETTERS if not any(t.startswith(a) for t in taken)), "z")
        if only_beyond and not is_long(self.roots, only_beyond):
            return
        cap = NODES_PER_CHAR * min_chars + 1
        size = expanded_sizes(order, cap)
        at_root = {id(r) for r in self.roots}
        printer = TextPrinter(sizes=False)  # lengths only: one printer, one memo
        self.named = [
            n for n in order
            if uses[id(n)] > 1 and n.children and id(n) not in at_root
            and (size[id(n)] >= cap or len(printer.doprint(n)) > min_chars)
        ]

    def name(self, i: int, ascii: bool = False) -> str:
        """The name of the ``i``-th binding (from 1): ``z₁``, or ``z1`` in ASCII."""
        return f"{self.letter}{i}" if ascii else f"{self.letter}{str(i).translate(_SUBSCRIPTS)}"

    def rewrite(self, ascii: bool = False) -> tuple[list[Expr], list[tuple[str, Expr]]]:
        """The roots with each named node replaced by its name, and the bindings
        ``[(name, expression), …]`` in order, each using only names bound before it."""
        if not self.named:
            return list(self.roots), []
        named = {id(n) for n in self.named}
        memo: dict[int, Expr] = {}
        bindings: list[tuple[str, Expr]] = []
        order, _ = _walk(self.roots)
        for n in order:
            kids = n.children
            new_kids = [memo[id(k)] for k in kids]
            rebuilt = n if all(a is b for a, b in zip(new_kids, kids, strict=True)) else n.rebuild(new_kids)
            if id(n) in named:
                name = self.name(len(bindings) + 1, ascii)
                bindings.append((name, rebuilt))
                memo[id(n)] = Var(name, n.shape)
            else:
                memo[id(n)] = rebuilt
        return [memo[id(r)] for r in self.roots], bindings


def share(roots: list[Expr], taken: set[str], ascii: bool = False, min_chars: int = MIN_CHARS,
          only_beyond: int = 0) -> tuple[list[Expr], list[tuple[str, Expr]]]:
    """Rewrite ``roots`` with repeated large subexpressions replaced by names.

    Returns the rewritten roots and the bindings ``[(name, expression), …]``, each
    binding using only names bound before it.  Nothing is named when the roots print
    in ``only_beyond`` characters or fewer.
    """
    return Sharing(roots, taken, min_chars, only_beyond).rewrite(ascii)


def names(*roots: Expr) -> set[str]:
    """The names the trees use (variables and abstract functions): a binding's name must
    not read as one of them."""
    out: set[str] = set()
    for r in roots:
        out.update(n.name for n in r.walk() if isinstance(getattr(n, "name", None), str))
    return out


# -- one expression, printed with its bindings ------------------------------------------------


def forms(e: Expr, taken: Iterable[str] = (), only_beyond: int = LONG) -> dict[str, Any]:
    """``e`` as JSON-ready strings: ``text``, ``ascii``, ``latex`` and ``shape`` (``dims``: the
    shape as structured values, ``["m", "n"]``, a product as a list), and
    ``bindings``, the named shared subexpressions that the three texts use (empty unless
    ``e`` is long), each with its ``name`` (``z₁``), ``ascii_name`` (``z1``),
    ``latex_name`` (``z_{1}``), ``text``, ``ascii``, ``latex`` and ``shape``."""
    sharing = Sharing([e], taken, only_beyond=only_beyond)
    (text,), bindings = sharing.rewrite()
    (ascii,), ascii_bindings = sharing.rewrite(ascii=True)
    return {
        "text": to_text(text), "ascii": to_text(ascii, ascii=True), "latex": to_latex(text),
        "shape": shape_str(e.shape), "dims": shape_json(e.shape),
        "bindings": [
            {"name": name, "ascii_name": a_name, "latex_name": latex_name(name), "text": to_text(v),
             "ascii": to_text(a_v, ascii=True), "latex": to_latex(v), "shape": shape_str(v.shape),
             "dims": shape_json(v.shape)}
            for (name, v), (a_name, a_v) in zip(bindings, ascii_bindings, strict=True)
        ],
    }


def text_with_bindings(e: Expr, taken: Iterable[str] = (), ascii: bool = False, only_beyond: int = LONG) -> str:
    """``e`` as text; when it is long, with its shared parts named, one binding a line::

        MAIN
          where z₁ = …
                z₂ = …
    """
    (root,), bindings = share([e], set(taken), ascii, only_beyond=only_beyond)
    return join_text(to_text(root, ascii), [(name, to_text(v, ascii)) for name, v in bindings])


def join_text(main: str, bindings: Sequence[tuple[str, str]]) -> str:
    """``main`` with its bindings (name, text) on the lines below it: ``where z₁ = …``."""
    lines = [main]
    for i, (name, text) in enumerate(bindings):
        lines.append(f"  {'where' if i == 0 else '     '} {name} = {text}")
    return "\n".join(lines)


def split_text(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The inverse of :func:`join_text`: the main text and the bindings (name, text).

    >>> split_text("z₁ zᵀ\\n  where z₁ = W x")
    ('z₁ zᵀ', [('z₁', 'W x')])
    """
    main, *rest = text.split("\n")
    bindings = []
    for line in rest:
        body = line.strip().removeprefix("where ").strip()
        name, value = body.split(" = ", 1)
        bindings.append((name, value))
    return main, bindings


def latex_with_bindings(e: Expr, taken: Iterable[str] = (), only_beyond: int = LONG) -> str:
    """``e`` in LaTeX; when it is long, an aligned block: the expression, then
    ``\\text{where } z_{1} = …`` and one binding a row."""
    (root,), bindings = share([e], set(taken), only_beyond=only_beyond)
    return join_latex(to_latex(root), [(latex_name(name), to_latex(v)) for name, v in bindings])


def join_latex(main: str, bindings: Sequence[tuple[str, str]]) -> str:
    """``main`` (LaTeX) with its bindings (name, LaTeX) in the rows of an aligned block."""
    if not bindings:
        return main
    rows = [f"& {main}"]
    for i, (name, text) in enumerate(bindings):
        where = r"\text{where }" if i == 0 else r"\phantom{\text{where }}"
        rows.append(f"& {where} {name} = {text}")
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


__all__ = ["LONG", "MIN_CHARS", "Sharing", "share", "is_long", "expanded_sizes", "names", "forms",
           "text_with_bindings", "join_text", "split_text", "latex_with_bindings", "join_latex"]
