"""What a reading assumed that the expression did not force, in words: defaults the
expression bent, names read as coefficients or sizes, words read as products, a 1 read
as 𝟏, scalars added to every entry of an array."""

from __future__ import annotations

from typing import Any

from ..errors import Span
from ..nodes import Call, Expr, MatMul, Num, Power, Size, Var
from ..shapes import describe_shape, shape_str
from .names import Scope
from .readings import Reading
from .sizes import size_meaning
from .words import coefficient_letter


def assumptions(tree: Expr, reading: Reading, spans: dict[Expr, Span], text: str) -> list[str]:
    """What ``reading`` (grounded as ``tree``) assumed that the expression did not force, in words."""
    said = _assumed(tree, reading.scope, spans, text)
    builder, u = reading.builder, reading.u
    if builder.ones_read:
        said.append("the 1 that begins a product is read as the vector of ones 𝟏, which the shapes need "
                    "(the number 1 would make the product a scalar or a row)")
    for s, like in builder.broadcasts:  # x − tr(X)/n: a scalar added to every entry
        written = text[s.span[0]:s.span[1]].strip() if s.span else "a scalar term"
        ones = "𝟏" if u.is_one(like.shape[1]) or u.is_one(like.shape[0]) else "𝟏𝟏ᵀ"
        array = "vector" if ones == "𝟏" else "matrix"
        note = f"{written} is a scalar added to every entry (a scalar added to a {array} is that scalar times {ones})"
        if note not in said:
            said.append(note)
    return said


_KINDS = {"vector": "a lowercase letter is a column vector", "matrix": "a capital letter is a matrix"}


def _assumed(tree: Expr, scope: Scope, spans: dict[Expr, Span], text: str) -> list[str]:
    """What the reading assumed that the expression did not force, in words."""
    out = []
    shapes = {n.name: n.shape for n in tree.walk() if isinstance(n, Var)}
    for name in sorted(scope.as_vectors):
        if shapes.get(name, (1, 1)) != (1, 1):
            out.append(f"{name} is a vector: the expression needs it (a Greek letter is a scalar unless "
                       "the expression needs more)")
    for name in scope.bent():  # a default the expression bent: x^2 makes x a scalar
        if name in scope.as_scalars:  # a x, c A x: a coefficient
            why = "as MatrixCalculus.org reads a–g" if coefficient_letter(name) else "which the expression needs"
            out.append(f"{name} is read as a scalar coefficient, {why} (a lowercase letter is a column vector by "
                       f"default; if {name} is a vector, declare it: --where \"{name}: n\")")
            continue
        out.append(f"{name} is a {describe_shape(shapes[name])}: the expression needs it "
                   f"({_KINDS[scope.defaults[name][0]]} by default)")
    out.extend(scope.names.said)
    for name in scope.size_dims:  # ‖X w − y‖² / m: m is a size, and which one is said
        holder = next((v for v in tree.walk() if isinstance(v, Var) and name in v.shape), None)
        declare = f", e.g. --where \"{holder.name}: {_declared(holder.shape)}\"" if holder else ""
        out.append(f"{name} is {size_meaning(tree, name)}: a size name used as a number is that size "
                   f"(declare the shapes to choose another{declare}; for a number that is no size, "
                   f"--where \"{name}: scalar\")")
    for n in tree.walk():  # what a row says about how it was read (norm2 of a matrix)
        said = n.fn.reading(n) if isinstance(n, Call) and n.fn.reading is not None else None
        if said and "{arg}" in said:  # the argument as written
            at = spans.get(n.args[0])
            said = said.replace("{arg}", text[at[0]:at[1]] if at else "the argument")
        if said and said not in out:
            out.append(said)
    coefficients: set[str] = set()
    for n in tree.walk():  # n logdet(Σ): a vector by default times scalars only
        if isinstance(n, MatMul):
            for f in n.factors:
                if not (isinstance(f, Var) and scope.defaults.get(f.name, ("",))[0] == "vector"
                        and f.shape != (1, 1)):
                    continue  # (checked first: a product of 20,000 factors stays linear)
                others = [g for g in n.factors if g is not f]
                # a computed scalar (n logdet(Σ), a xᵀ x), not a number or a scalar variable (λ x)
                scalar_rest = all(g.is_scalar for g in others) or (
                    f in (n.factors[0], n.factors[-1]) and others[0].shape[0] == 1 and others[-1].shape[1] == 1)
                if scalar_rest and not all(_number_like(g) for g in others):
                    coefficients.add(f.name)
    for name in sorted(coefficients):
        out.append(f"{name} is read as a column vector (lowercase letters are vectors by default); if it is "
                   f"a number, declare it: --where \"{name}: scalar\"")
    return out


def _number_like(e: Expr) -> bool:
    """A number, a scalar variable or a size (and its powers): λ x, x / m."""
    if isinstance(e, Power) and isinstance(e.exponent, Num):
        e = e.base
    return isinstance(e, (Num, Var, Size))


def _declared(shape: tuple[Any, Any]) -> str:
    """A shape as a declaration writes it: n, m×n."""
    return str(shape[0]) if shape[1] == 1 else shape_str(shape)

