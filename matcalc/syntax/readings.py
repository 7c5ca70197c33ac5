"""The search over readings.  Default kinds are preferences (a lowercase letter is a
column vector, a capital a matrix, a Greek letter a scalar), and a size name used as a
number is a size; when a reading fails, or bends one name's default through another's
(μ a scalar makes x a scalar in ``x − μ``), other readings are tried, each a fresh build
of the same parse tree, and the one that bends fewest names is kept:

1. the first reading; if it fails, size names that are factors read as numbers
   (``𝟏 − m softmax(z)``), else Greek letters read as vectors, together then one at a time;
   if it parses but is not a scalar, size names that are factors read as numbers when
   that makes it one (``−N/2 log|Σ|``);
2. Greek letters added to a bent name read as vectors (``x − μ − ν``), then each one;
3. a literal 1 that begins a product read as the vector of ones (``A − 1 xᵀ``);
4. lowercase letters read as scalar coefficients: a–g together, then each one (``a x``,
   ``c A x``);
5. when the expression is still not a scalar, Greek letters read as vectors, the
   transposed ones first (``μᵀ Σ μ``, ``θᵀ x``).

Each try is bounded (:data:`SINGLE_NAME_TRIES` single names), so the search is a small
constant number of builds.

A reading's shapes are inferred while its nodes are built, with its own unifier, in force
for the build only (:func:`build_reading`; why, in :mod:`matcalc.syntax.making`).  What the
chosen reading assumed that the expression did not force is said in words
(:func:`assumptions`): defaults the expression bent, names read as coefficients or sizes,
words read as products, a 1 read as 𝟏, scalars added to every entry of an array.
"""

from __future__ import annotations

from typing import Any

from lark.exceptions import VisitError

from ..declare import Declarations, default_kind
from ..errors import MatcalcError, ParseError, ShapeError, Span, TimeLimitError
from ..nodes import Add, Call, Expr, MatMul, Num, Power, Size, Transpose, Var
from ..shapes import Inference, Mismatch, describe_shape, inferring, shape_str
from .builder import Builder
from .names import Names, Scope
from .sizes import FreshSizeNames, names_in, size_meaning
from .source import located
from .words import coefficient_letter

#: single names tried as vectors (or as scalars), one at a time, when the first readings bend a name
SINGLE_NAME_TRIES = 8


class Reading:
    """One reading of the parse tree: its nodes built with shapes unified, not yet grounded
    (``tree``), the unifier (``u``) and the builder that made them, and the names its
    unknown sizes will be given (``fresh``)."""

    __slots__ = ("tree", "u", "builder", "fresh")

    def __init__(self, tree: Expr, u: Inference, builder: Builder, fresh: FreshSizeNames):
        self.tree = tree
        self.u = u
        self.builder = builder
        self.fresh = fresh

    @property
    def scope(self) -> Scope:
        return self.builder.scope

    @property
    def names(self) -> Names:
        return self.builder.names

    def is_scalar(self) -> bool:
        return self.u.is_one(self.tree.shape[0]) and self.u.is_one(self.tree.shape[1])

    def bent(self) -> list[str]:
        return self.builder.scope.bent()


def build_reading(lark_tree: Any, text: str, names: Names, expect: tuple | None,
                  as_vectors: frozenset[str] = frozenset(), as_scalars: frozenset[str] = frozenset(),
                  leading_one_as_ones: bool = False) -> Reading:
    """One reading of the parse tree.  ``as_vectors``: scalars by default read as vectors;
    ``as_scalars``: vectors by default read as scalars; ``leading_one_as_ones``: a literal 1
    that begins a product is the vector of ones.  ``expect``: a shape the expression's unknown sizes are
    unified with where they can be."""
    fresh = FreshSizeNames((set(names.decls.dim_symbols()) | names_in(text)) - set(names.sizes))
    u = Inference(fresh)
    builder = Builder(names, u, as_vectors, as_scalars, leading_one_as_ones)
    try:
        with inferring(u):
            raw = builder.transform(lark_tree)
            for have, want in zip(raw.shape, expect or (), strict=False):
                try:
                    u.unify(have, want)
                except Mismatch:
                    pass  # a claim of the wrong shape: the caller says so
    except VisitError as exc:
        err = exc.orig_exc
        if isinstance(err, MatcalcError):
            raise located(err, text, u) from None
        raise
    return Reading(raw, u, builder, fresh)


def _attempt(lark_tree: Any, text: str, names: Names, expect: tuple | None,
             as_vectors: frozenset[str] = frozenset(), as_scalars: frozenset[str] = frozenset(),
             leading_one_as_ones: bool = False) -> Reading | None:
    """:func:`build_reading`, or None where that reading does not parse."""
    try:
        return build_reading(lark_tree, text, names, expect, as_vectors, as_scalars, leading_one_as_ones)
    except TimeLimitError:
        raise
    except MatcalcError:
        return None


def with_letters(err: MatcalcError, letters: list[str]) -> MatcalcError:
    """An error in an expression with words read as products of their letters says so."""
    if letters and isinstance(err, (ParseError, ShapeError)):
        err.message = f"{err.message} ({'; '.join(letters)})"
        err.args = (err.message,)
    return err


def first_reading(lark_tree: Any, text: str, decls: Declarations, names: Names, expect: tuple | None,
                  letters: list[str]) -> Reading:
    """The reading the search starts from (step 1 of the module's list)."""
    try:
        reading = build_reading(lark_tree, text, names, expect)
    except TimeLimitError:
        raise
    except MatcalcError as first:
        # 𝟏 − m softmax(z): a size name as a factor is a number; tr(Σ) − (x − μ)ᵀ Σ (x − μ)
        # with Σ declared n×n: μ a scalar makes x a scalar and the sum fail, μ a vector does not
        trial = _first_that_parses(lark_tree, text, decls, names, expect)
        if trial is None:
            raise with_letters(first, letters) from None
        return trial
    # −N/2 log|Σ|: N a matrix makes f a matrix; N a size (a number) makes it a scalar
    if expect is None and not reading.is_scalar():
        again = Names(lark_tree, decls, factors_are_numbers=True, said=tuple(letters))
        if again.sizes != names.sizes:
            trial = _attempt(lark_tree, text, again, expect)
            if trial is not None and trial.is_scalar():
                return trial
    return reading


def _first_that_parses(lark_tree: Any, text: str, decls: Declarations, names: Names,
                       expect: tuple | None) -> Reading | None:
    """When the first reading fails: size names that are factors read as numbers; else the
    names that are scalars by default (Greek letters) read as vectors, all together, then
    one at a time (a bounded number of tries).  The reading that parses, or None."""
    again = Names(lark_tree, decls, factors_are_numbers=True, said=tuple(names.said))
    tries: list[tuple[Names, frozenset[str]]] = [(again, frozenset())] if again.sizes != names.sizes else []
    scalars = sorted({m.name for m in names.meaning_at.values() if m.kind == "variable" and m.name not in decls.variables
                      and default_kind(m.name) == "scalar"})
    if scalars:
        tries.append((names, frozenset(scalars)))
        tries += [(names, frozenset({n})) for n in scalars[:SINGLE_NAME_TRIES]]
    for which, as_vectors in tries:
        trial = _attempt(lark_tree, text, which, expect, as_vectors)
        if trial is not None:
            return trial
    return None


def better_reading(reading: Reading, lark_tree: Any, text: str, expect: tuple | None) -> Reading:
    """The reading that bends fewest default kinds, from ``reading`` (steps 2–5 of the
    module's list); each step keeps a trial only where it bends fewer names and parses."""
    names = reading.names
    bent = reading.bent()
    scalars = [n for n, (kind, _) in reading.scope.defaults.items() if kind == "scalar"]
    # 2. read scalar-by-default names as vectors: first together, those added to a bent
    # name (x − μ − ν), then one at a time
    tries = [frozenset(_added_to(reading.tree, set(bent), set(scalars)))] if bent else []
    tries += [frozenset({n}) for n in scalars[:SINGLE_NAME_TRIES]] if bent else []
    for group in tries:
        if bent and group and not group <= reading.scope.as_vectors:
            trial = _attempt(lark_tree, text, names, expect, reading.scope.as_vectors | group)
            if trial is not None and len(trial.bent()) < len(bent):
                reading = trial
                bent = reading.bent()
    # 3. a literal 1 that begins a product is the vector of ones when the number 1 bends a
    # name (A − 1 xᵀ, the rank-one 𝟏 xᵀ): the reading that bends fewer names is kept, and said
    if bent and reading.builder._literal_ones:
        trial = _attempt(lark_tree, text, names, expect, reading.scope.as_vectors, reading.scope.as_scalars,
                         leading_one_as_ones=True)
        if trial is not None and trial.builder.ones_read and len(trial.bent()) < len(bent):
            reading = trial
            bent = reading.bent()
    # 4. a lowercase letter is a vector by default, but a product of two of them (a x) or
    # a letter before a matrix (c A x) is a coefficient times a vector: when the reading
    # bent a name, read lowercase names as scalars instead — the letters a–g together (the
    # scalars of MatrixCalculus.org's convention), then each one — and keep the reading
    # that bends fewest names, capitals last, a–g first (the output says what it assumed)
    if bent and not reading.scope.as_scalars:
        vectors = [n for n, (kind, _) in reading.scope.defaults.items() if kind == "vector"]
        best = _bending_cost(bent)
        for group in [frozenset(n for n in vectors if coefficient_letter(n))] + \
                [frozenset({n}) for n in vectors[:SINGLE_NAME_TRIES]]:
            if not group:
                continue
            trial = _attempt(lark_tree, text, names, expect, reading.scope.as_vectors, group)
            if trial is None or (reading.is_scalar() and not trial.is_scalar()):
                continue
            key = _bending_cost(trial.bent())
            if key < best:
                reading, best = trial, key
        bent = reading.bent()
    # 5. a Greek letter read as a scalar that makes f a matrix (μᵀ Σ μ, θᵀ x, X β in a
    # log-likelihood): the reading with it a vector, if that makes f a scalar, is the one
    # meant — a transposed scalar is the strongest sign (the reading is said)
    if expect is None and not reading.is_scalar():
        left = frozenset(n for n in scalars if n not in reading.scope.as_vectors)
        transposed = {n.arg.name for n in reading.tree.walk() if isinstance(n, Transpose) and isinstance(n.arg, Var)}
        for group in (left & transposed, left):
            trial = _attempt(lark_tree, text, names, expect, reading.scope.as_vectors | group) if group else None
            if trial is not None and trial.is_scalar() and len(trial.bent()) <= len(bent):
                reading = trial
                break
    return reading


def _bending_cost(bent: list[str]) -> tuple[int, int, int]:
    """How far a reading bends the default kinds: names bent, of them capitals (a matrix
    read as a row vector), of them lowercase letters outside a–g; less is better."""
    return (len(bent), sum(n[0].isupper() for n in bent), sum(not coefficient_letter(n) for n in bent))


def _added_to(tree: Expr, bent: set[str], scalars: set[str]) -> set[str]:
    """The scalar-by-default names that are terms of a sum with a bent name as a term
    (μ and ν in x − μ − ν), signs and number factors aside."""

    def name(t: Expr) -> str | None:
        if isinstance(t, MatMul):
            rest = [f for f in t.factors if not isinstance(f, Num)]
            t = rest[0] if len(rest) == 1 else t
        return t.name if isinstance(t, Var) else None

    out: set[str] = set()
    for n in tree.walk():
        if isinstance(n, Add):
            names = {name(t) for t in n.terms}
            if names & bent:
                out |= names & scalars
    return out


# -- what the reading assumed, in words ---------------------------------------------------

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
