"""The public API: :func:`parse` and :func:`diff`, and the objects they return."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import functions as F
from .algebra import add, mul, transpose
from .declare import Declarations, closest, may_be_abstract
from .errors import DeclarationError, DiffError, MatcalcError, ParseError
from .identify import gradient as identify_gradient
from .identify import jacobian as identify_jacobian
from .limits import API_TIMEOUT, api_bound
from .nodes import Call, Diff, Expr, MatMul, Num, Size, Transpose, Var, Zeros, depends_on, map_bottom_up
from .printing.latex import latex_name, to_latex
from .printing.prose import latex_text, rule_latex
from .printing.shared import forms, is_long, latex_with_bindings, share, text_with_bindings
from .printing.shared import names as used_names
from .printing.text import ascii_words, to_text
from .rules.canon import Canon, canonical, function_identities, simplified
from .rules.differential import derivation, differential
from .schema import SCHEMA_VERSION
from .shapes import describe_shape, dim_str, shape_json, shape_str
from .syntax import parse_tree, size_meaning

LAYOUTS = ("denominator", "numerator")

TOO_DEEP = ("the expression is nested too deeply for matcalc: a pass over its tree ran out of Python's stack "
            "(please report it with the expression; a shallower expression works)")


def _bounded(method: Any) -> Any:
    """Every pass over trees is meant to be iterative; should one still recurse, a very
    deep expression gets a clean :class:`MatcalcError`, never a RecursionError traceback."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RecursionError:
            raise MatcalcError(TOO_DEEP) from None

    return run


class Expression:
    """A parsed expression: its tree, the shapes of its variables, and printers.

    >>> e = parse("tr(A X B)", where="X: n×p")
    >>> e.shapes["A"], e.shapes["B"]
    ('m×n', 'p×m')
    >>> print(e)
    tr(A X B)
    """

    def __init__(self, tree: Expr, text: str | None, decls: Declarations, var_shapes: dict[str, tuple],
                 functions: dict, assumptions: list[str] | None = None, spans: dict | None = None):
        self.tree = tree
        self._source = text  # None: a result, printed only when its text is asked for
        #: where each node of the tree is in the source text (errors point there)
        self.spans = spans or {}
        self.decls = decls
        self._shapes = var_shapes
        self.functions = functions
        #: what the reading assumed that the expression did not force, in words
        self.assumptions = list(assumptions or [])

    @property
    def source(self) -> str:
        """The text the expression was read from (a result: its printed text)."""
        if self._source is None:
            self._source = self.text()
        return self._source

    def variables(self) -> list[dict[str, Any]]:
        """Each variable, JSON-ready: ``name``, ``kind`` (scalar, vector, row vector or
        matrix), ``shape`` (``m×n``), ``dims`` (``["m", "n"]``), ``symmetric`` and
        ``declared`` (given in ``where``, rather than inferred)."""
        symmetric = {n.name for n in self.tree.walk() if isinstance(n, Var) and n.symmetric}
        out = []
        for name, (r, c) in self._shapes.items():
            kind = "scalar" if (r, c) == (1, 1) else "vector" if c == 1 else "row vector" if r == 1 else "matrix"
            out.append({"name": name, "kind": kind, "shape": shape_str((r, c)), "dims": shape_json((r, c)),
                        "symmetric": name in symmetric, "declared": name in self.decls.variables})
        return out

    def function_list(self) -> list[dict[str, Any]]:
        """Each abstract function, JSON-ready: ``name``, ``kind`` (scalar, elementwise or
        vector) and ``note`` (what it means and how its derivative is written)."""
        return [{"name": name, "kind": decl.kind, "note": _function_note(name, decl, False)}
                for name, decl in self.functions.items()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the schema of ``matcalc/schema/result.schema.json`` (kind
        ``expression``): the expression's forms, its variables, functions and assumptions."""
        return {"version": SCHEMA_VERSION, "kind": "expression", "expression": self.forms(), "where": self.where(),
                "variables": self.variables(), "shapes": self.shapes, "functions": self.function_list(),
                "assumptions": list(self.assumptions), "notes": self.notes()}

    def notes(self, ascii: bool = False) -> list[str]:
        """What a reader must know to read the expression as matcalc did: its abstract
        functions and its assumptions."""
        out = [_function_note(name, decl, ascii) for name, decl in self.functions.items()]
        return out + self.assumptions

    @property
    def shape(self) -> tuple:
        return self.tree.shape

    @property
    def shape_text(self) -> str:
        """The expression's shape as text: ``m×n`` (a column vector ``n×1``)."""
        return shape_str(self.shape)

    @property
    def shapes(self) -> dict[str, str]:
        """Every variable's inferred shape, as text (``m×n``; a vector ``n×1``)."""
        return {k: shape_str(v) for k, v in self._shapes.items()}

    @property
    def is_scalar(self) -> bool:
        return self.tree.is_scalar

    def variable(self, name: str) -> Var:
        for n in self.tree.walk():
            if isinstance(n, Var) and n.name == name:
                return n
        raise ParseError(f"'{name}' does not occur in {self}", None)

    def where(self, ascii: bool = False) -> str:
        """Declarations that reproduce these shapes (for re-parsing printed results)."""
        parts = []
        def size(d: Any) -> str:  # a product of sizes, ASCII: {m*n}
            text = dim_str(d, ascii)
            return f"{{{text}}}" if ascii and "*" in text else text

        symmetric = {n.name for n in self.tree.walk() if isinstance(n, Var) and n.symmetric}
        symmetric |= {name for name, vd in self.decls.variables.items() if vd.symmetric}
        for name, (r, c) in self._shapes.items():
            if (r, c) == (1, 1):
                spec = "scalar"
            else:
                spec = size(r) if c == 1 else f"{size(r)}{' x ' if ascii else '×'}{size(c)}"
            sym = name in symmetric
            parts.append(f"{name}: {spec}{' symmetric' if sym else ''}")
        # a size used as a number (m ‖w‖² with X: m×n declared) that no variable of the
        # expression has: the declaration it came from, so that m re-parses as that size
        have = {d for shape in self._shapes.values() for d in shape}
        numbers = {n.dim for n in self.tree.walk() if isinstance(n, Size)} - have
        for name, vd in self.decls.variables.items():
            if name not in self._shapes and numbers & {vd.rows, vd.cols}:
                shape = [d for d in (vd.rows, vd.cols) if d is not None]
                parts.append(f"{name}: {(' x ' if ascii else '×').join(size(d) for d in shape)}")
        for name, decl in self.functions.items():
            if decl.kind == "scalar" and not may_be_abstract(name):  # cosh(…) re-parses only declared
                parts.append(f"{name}: function")
            elif decl.kind == "elementwise":
                parts.append(f"{name}: elementwise")
            elif decl.kind == "vector":
                parts.append(f"{name}: vector function {decl.out}" if decl.out else f"{name}: vector function")
        return ", ".join(parts)

    def text(self, ascii: bool = False) -> str:
        """The expression as text; a long one (a deep network's gradient) with its shared
        subexpressions named, one a line below it, so that the text grows linearly::

            (tanh′(W1 x) ⊙ (… (W3ᵀ (tanh′(z₁) ⊙ (W4ᵀ (tanh′(z₂) ⊙ …)))))) xᵀ
              where z₁ = W3 tanh(W2 tanh(W1 x))
                    z₂ = W4 tanh(z₁)
        """
        return text_with_bindings(self.tree, self._names(), ascii)

    def latex(self) -> str:
        """The expression in LaTeX; a long one as an aligned block with its bindings
        (``\\text{where } z_{1} = …``)."""
        return latex_with_bindings(self.tree, self._names())

    def forms(self) -> dict[str, Any]:
        """Text, ASCII, LaTeX, shape and ``bindings`` (the named shared subexpressions the
        texts use; empty unless the expression is long), JSON-ready."""
        return forms(self.tree, self._names())

    def _names(self) -> set[str]:
        return set(self._shapes) | set(self.functions) | set(self.decls.variables)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Expression({self.text()!r}, shape {shape_str(self.shape)})"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()} \\quad \\in \\mathbb{{R}}^{{{_latex_shape(self.shape)}}}$"

    def latex_where(self) -> str:
        """The variables' shapes in LaTeX: ``A \\in \\mathbb{R}^{m \\times n},\\ x \\in \\mathbb{R}^{n}``."""
        symmetric = {n.name for n in self.tree.walk() if isinstance(n, Var) and n.symmetric}
        parts = []
        for name, shape in self._shapes.items():
            parts.append(rf"{latex_name(name)} \in {_latex_space(shape)}" + (r"\ \text{symmetric}" if name in symmetric else ""))
        return r",\ ".join(parts)

    def latex_block(self) -> str:
        """What ``matcalc parse`` prints, typeset: an ``aligned`` block with the expression
        and its shape, the variables' shapes, and the notes (abstract functions, what the
        reading assumed)."""
        rows = [rf"f &= {self.latex()} && \in {_latex_space(self.shape)}"]
        if self._shapes:
            rows.append(rf"& \text{{where }} {self.latex_where()}")
        rows.extend(rf"& \text{{{latex_text(n)}}}" for n in self.notes())
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def evaluate(self, values: Mapping[str, Any] | None = None, dims: Mapping[str, int] | None = None, **kw: Any) -> Any:
        """The value with NumPy: a float for a scalar, else a 2-D array (vectors n×1).

        >>> import numpy as np
        >>> parse("x' A x").evaluate(x=np.array([1.0, 2.0]), A=np.eye(2))
        5.0
        """
        from .evaluate import evaluate  # NumPy is imported when something is evaluated

        return evaluate(self.tree, {**(values or {}), **kw}, dims)


def _latex_shape(shape: tuple) -> str:
    return rf"{_latex_dim(shape[0])} \times {_latex_dim(shape[1])}"


def _latex_space(shape: tuple) -> str:
    """ℝ, ℝⁿ or ℝ^{m×n}, in LaTeX."""
    r, c = shape
    if (r, c) == (1, 1):
        return r"\mathbb{R}"
    return rf"\mathbb{{R}}^{{{_latex_dim(r) if c == 1 else _latex_shape((r, c))}}}"


def _latex_dim(d: Any) -> str:
    return dim_str(d).replace("·", r" \cdot ")


def parse(text: str, where: str | Mapping[str, object] | Declarations | None = None,
          expect: tuple | None = None, timeout: float | None = API_TIMEOUT) -> Expression:
    """Parse a matrix expression.

    ``where`` declares names: ``"A: m×n, x: n, s: scalar, S: n×n symmetric,
    f: elementwise"`` or a dict ``{"A": "m×n", "x": 3}``.  Undeclared capital letters
    are matrices, lowercase letters column vectors, Greek letters scalars; sizes are
    inferred.  Raises :class:`matcalc.ParseError` or :class:`matcalc.ShapeError`.
    ``timeout``: seconds the call may take (default 60, or the time limit already in force;
    None: unbounded), then :class:`matcalc.TimeLimitError`.
    """
    with api_bound(timeout, "parsing the expression"):
        parsed = parse_tree(text, where, expect)
    return Expression(parsed.tree, text, parsed.decls, parsed.shapes, parsed.functions, parsed.assumptions,
                      parsed.spans)


def _function_note(name: str, decl: Any, ascii: bool) -> str:
    if decl.kind == "elementwise":
        return f"{name}: abstract elementwise function ({name}{chr(39) if ascii else '′'} its derivative)"
    if decl.kind == "vector":
        out = f" with values in R^{decl.out}" if ascii else f" with values in ℝ^{decl.out}"
        return f"{name}: abstract vector function{out if decl.out else ''} (jac {name} its Jacobian)"
    return f"{name}: abstract scalar function ({'grad ' if ascii else '∇'}{name} its gradient)"


class Derivation(list):
    """The steps of a derivation (a list of :class:`Step`); in Jupyter it renders as an
    aligned derivation, each line with the rule that produced it."""

    #: the function's letter: f for a scalar, F for a matrix (set by the derivative)
    function = "f"

    def text(self, ascii: bool = False, indent: str = "") -> str:
        lines = []
        for i, s in enumerate(self):
            lhs = "df" if s.lhs == "d f" else s.lhs
            rule = f"    [{ascii_words(s.rule) if ascii else s.rule}]" if s.rule else ""
            head = f"{indent}{i + 1:>3}. {ascii_words(lhs) if ascii else lhs} = "
            main, *bindings = s.text(ascii).split("\n")  # a long step: its bindings below it
            lines.append(f"{head}{main}{rule}")
            lines.extend(f"{' ' * len(head)}{b}" for b in bindings)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # the text/plain form in a notebook, and in a REPL
        return self.text()

    def latex(self) -> str:
        """An ``aligned`` block: ``\\mathrm{d}f &= …`` rows, each with its rule, then the
        identification on a line of its own (``\\Rightarrow \\frac{\\partial f}{\\partial X} &= …``)."""
        rows = []
        previous = None
        for s in self:
            lhs = _latex_lhs(s.lhs, self.function)
            shown = "" if lhs == previous else lhs
            if shown and previous is not None and s.lhs not in ("d f", "vec dF", "d²f", "dG", "vec dG"):
                shown = rf"\Rightarrow {shown}"  # the identification: what the differential gives
            previous = lhs
            rule = f" && {rule_latex(s.rule)}" if s.rule else ""
            rows.append(rf"{shown} &= {s.latex()}{rule}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"


def _latex_lhs(lhs: str, function: str = "f") -> str:
    if lhs == "d f":
        return rf"\mathrm{{d}}{function}"
    if lhs.startswith("∂"):
        f, x = lhs[1:].split("/∂")
        return rf"\frac{{\partial {f}}}{{\partial {latex_name(x)}}}"
    if lhs.startswith("H[") and lhs.endswith("]"):  # the Hessian applied to a direction
        return rf"H[{latex_name(lhs[2:-1])}]"
    return {"vec dF": r"\operatorname{vec} \mathrm{d}F", "DF": r"\mathsf{D}F", "d²f": r"\mathrm{d}^{2} f",
            "dG": r"\mathrm{d}G", "vec dG": r"\operatorname{vec} \mathrm{d}G"}.get(lhs, lhs)


@dataclass(frozen=True)
class Step:
    """One step of a derivation: an expression and the rule that produced it."""

    rule: str
    expr: Expr
    lhs: str = "d f"

    def text(self, ascii: bool = False) -> str:
        """The step's expression (long: with its shared subexpressions named, one a line)."""
        return text_with_bindings(self.expr, used_names(self.expr), ascii)

    def latex(self) -> str:
        return latex_with_bindings(self.expr, used_names(self.expr))

    def __str__(self) -> str:
        """``df = xᵀ A dx    [d(AB) = (dA) B + A dB]``: the step as the derivation prints it."""
        lhs = "df" if self.lhs == "d f" else self.lhs
        rule = f"    [{self.rule}]" if self.rule else ""
        main, *bindings = self.text().split("\n")
        return "\n".join([f"{lhs} = {main}{rule}", *(f"    {b}" for b in bindings)])

    def __repr__(self) -> str:
        return f"Step({self.rule!r}, {self.text()!r}, lhs={self.lhs!r})"


class Derivative:
    """What :func:`diff` returns.

    ``differential`` (df, canonical), ``gradient`` (for scalar f: the matrix G with
    df = tr(Gᵀ dX), shaped like X; ``None`` otherwise), ``jacobian`` (DF with
    vec dF = J vec dX, always), ``derivative`` (∂f/∂X in the chosen ``layout``), and
    ``steps``, the derivation.  Each is a tree; :meth:`text`, :meth:`latex` and
    :meth:`to_dict` print them.
    """

    def __init__(self, expression: Expression, wrt: Var, layout: str, notes: tuple[str, ...] = (),
                 any_symmetric_jacobian: bool = False):
        """``any_symmetric_jacobian``: for a symmetric X, accept one of the Jacobians (they
        agree on symmetric dX), as the Hessian does before it symmetrises."""
        if layout not in LAYOUTS:
            raise MatcalcError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        self.expression = expression
        self.wrt = wrt
        self.layout = layout
        f = expression.tree
        self._raw = differential(function_identities(f), wrt)
        self.is_scalar = f.is_scalar
        # identification works on the differential with transposes at the leaves and the
        # function identities applied (tr(A ⊗ dX) = tr(A) tr(dX)), but sums not distributed
        self._canon = Canon()  # one memo for every canonical form of this derivative
        linear = simplified(self._raw, self._canon)
        if self.is_scalar:
            self._identified = identify_gradient(linear, wrt)
            g = self._identified
            if wrt.symmetric:
                g = mul(Num(Fraction(1, 2)), add(g, transpose(g)))
            self._gradient: Expr | None = canonical(g, self._canon)
            answer = self._gradient
        else:
            if wrt.symmetric and not wrt.is_scalar and not any_symmetric_jacobian:
                raise DiffError(
                    f"the Jacobian with respect to the symmetric matrix {wrt.name} is not unique; "
                    f"declare {wrt.name} without 'symmetric' for the unconstrained Jacobian", node=wrt,
                )
            self._gradient = None
            self.__dict__["_jacobian"] = answer = canonical(identify_jacobian(linear, wrt), self._canon)
        self._conditions = [*notes, *_conditions(f, answer), *_kinks(f, wrt)]
        if not any(isinstance(n, Var) and n.name == wrt.name for n in f.walk()):
            self._conditions.append(f"f does not depend on {wrt.name}: its derivative is zero")

    # -- results computed when first asked for (a scalar f's Jacobian is its gradient, reshaped)
    @functools.cached_property
    def _differential(self) -> Expr:
        return canonical(self._raw, self._canon)

    @functools.cached_property
    def _jacobian(self) -> Expr:
        assert self._gradient is not None  # a non-scalar f's Jacobian is computed at once
        return canonical(transpose(F.vec_of(self._gradient)), self._canon)

    @functools.cached_property
    def _derivative(self) -> Expr:
        if self._gradient is not None:
            return self._gradient if self.layout == "denominator" else canonical(transpose(self._gradient), self._canon)
        return self._jacobian if self.layout == "numerator" else canonical(transpose(self._jacobian), self._canon)

    @functools.cached_property
    def _unsymmetrised(self) -> Expr:
        """The gradient before sym(G) = (G + Gᵀ)/2 (a step of the derivation)."""
        return canonical(self._identified, self._canon) if self.wrt.symmetric else self._gradient  # type: ignore[return-value]

    # -- results, as expressions (printable, evaluable, with the expression's declarations)
    def _wrap(self, tree: Expr | None) -> Expression | None:
        if tree is None:
            return None
        e = self.expression
        return Expression(tree, None, e.decls, e._shapes, e.functions, e.assumptions)

    @property
    @_bounded
    def differential(self) -> Expression:
        """df, in canonical form (in terms of dX)."""
        return self._wrap(self._differential)  # type: ignore[return-value]

    @property
    @_bounded
    def gradient(self) -> Expression | None:
        """G with df = tr(Gᵀ dX), the shape of X; None when the expression is not scalar."""
        return self._wrap(self._gradient)

    @property
    @_bounded
    def jacobian(self) -> Expression:
        """DF = J with vec dF = J vec dX (for a scalar f, (vec G)ᵀ)."""
        return self._wrap(self._jacobian)  # type: ignore[return-value]

    @property
    @_bounded
    def derivative(self) -> Expression:
        """∂f/∂X in the chosen layout."""
        return self._wrap(self._derivative)  # type: ignore[return-value]

    def evaluate(self, values: Mapping[str, Any] | None = None, dims: Mapping[str, int] | None = None,
                 **kw: Any) -> Any:
        """The derivative at values, with NumPy: the gradient (shaped like the variable) for a
        scalar f, else ∂F/∂X in the chosen layout.  Sizes are taken from the arrays given for
        any variable of the expression, so that ``dims=`` is needed only for a size no array
        fixes.  Abstract functions are passed as callables (``L=…, grad_L=…``).

        >>> import numpy as np
        >>> diff("x' A x", "x").evaluate(x=np.array([1.0, 2.0]), A=np.eye(2)).ravel().tolist()
        [2.0, 4.0]
        """
        from .evaluate import evaluate  # NumPy is imported when something is evaluated

        return evaluate(self._derivative, {**(values or {}), **kw}, dims, sizes_from=self.expression.tree)

    # -- the SymPy oracle ------------------------------------------------------------------
    @_bounded
    def check(self, timeout: float = 10.0) -> Any:
        """Check this result entry by entry with SymPy at small concrete sizes.

        Returns a :class:`matcalc.checking.result.CheckResult`; ``bool(result)`` is True when the
        gradient (or Jacobian) is right.  Imports SymPy on first use.  The first result
        with a verdict is kept, and shown with the result in Jupyter.
        """
        from .checking import sympy_oracle  # SymPy is heavy: imported only when a check is asked for

        if self._checked is not None:
            return self._checked
        claimed = self._gradient if self._gradient is not None else self._jacobian
        result = sympy_oracle.check_derivative(self.expression.tree, self.wrt, claimed, timeout=timeout,
                                               name="matcalc's answer")
        if result.ok is not None:
            self._checked = result
        return result

    _checked: Any = None

    # -- notes ---------------------------------------------------------------------------
    @property
    def notes(self) -> list[str]:
        """What a reader must know about the answer: abstract functions, assumptions the
        reading made, conditions under which the answer holds."""
        return self.notes_text()

    def notes_text(self, ascii: bool = False) -> list[str]:
        return self.expression.notes(ascii) + self._conditions

    # -- names ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """∂f/∂X for a scalar f, DF for a Jacobian."""
        x = self.wrt.name
        return f"∂f/∂{x}" if self.is_scalar else f"∂F/∂{x}"

    @_bounded
    def shape_note(self, ascii: bool = False) -> str:
        x = self.wrt
        d = self._derivative
        if self.is_scalar:
            if self.layout == "denominator":
                return f"{shape_str(d.shape, ascii)}, the shape of {x.name} (denominator layout)"
            return f"{shape_str(d.shape, ascii)}, the shape of {x.name}{chr(39) if ascii else 'ᵀ'} (numerator layout)"
        if self.layout == "numerator":
            return f"{shape_str(d.shape, ascii)} Jacobian, vec dF = J vec d{x.name} (numerator layout)"
        return f"{shape_str(d.shape, ascii)}, the transpose of the Jacobian (denominator layout)"

    # -- steps ---------------------------------------------------------------------------
    @functools.cached_property
    @_bounded
    def steps(self) -> Derivation:
        """The derivation, rule by rule, as seed 001 writes it by hand."""
        x = self.wrt
        dx = Diff(x)
        out = [Step(rule, e) for rule, e in derivation(self.expression.tree, x)]
        if out[-1].expr != self._differential:
            out.append(Step("simplify: collect terms, transpose scalars", self._differential))
        if self.is_scalar:
            assert self._gradient is not None
            g = self._unsymmetrised
            if x.is_scalar:
                form = mul(g, dx)
                rule = "identification: df = g dx"
            elif x.shape[1] == 1:
                form = mul(canonical(transpose(g)), dx)
                rule = "a scalar equals its transpose: df = gᵀ dx"
            else:
                form = F.TRACE(mul(canonical(transpose(g)), dx))
                rule = "a scalar equals its trace; trace cyclicity brings dX last: df = tr(Gᵀ dX)"
            if form != out[-1].expr:
                out.append(Step(rule, form))
            # in numerator layout ∂f/∂X is Gᵀ: the identification gives G, the next step its transpose
            named = f"∂f/∂{x.name}" if self.layout == "denominator" else "G"
            out.append(Step("first identification table: df = tr(Gᵀ dX) ⇔ ∂f/∂X = G", g, named))
            if x.symmetric:
                out.append(Step(
                    "symmetric X: the gradient on symmetric matrices is sym(G) = (G + Gᵀ)/2", self._gradient, named,
                ))
            if self.layout == "numerator":
                out.append(Step("numerator layout: the transpose", self._derivative, f"∂f/∂{x.name}"))
        else:
            form = mul(self._jacobian, F.vec_of(dx)) if not x.is_scalar else mul(self._jacobian, dx)
            out.append(Step("vec dF = J vec dX, with vec(A X B) = (Bᵀ ⊗ A) vec X", form, "vec dF"))
            out.append(Step("identification: DF = J", self._jacobian, "DF"))
            if self.layout == "denominator":
                out.append(Step("denominator layout: the transpose Jᵀ", self._derivative, f"∂F/∂{x.name}"))
        done = Derivation(out)
        done.function = "f" if self.is_scalar else "F"
        return done

    # -- printing ------------------------------------------------------------------------
    def _shared(self, ascii: bool = False) -> tuple[list[Expr], list[tuple[str, Expr]]]:
        """The derivative, df (and the Jacobian of a matrix F), with the repeated
        subexpressions they share named once (z₁ = …) when one of them is long, so that the
        output of a depth-k composition grows linearly with k; the expression itself is
        printed as written."""
        roots = [self._derivative, self._differential] + ([] if self.is_scalar else [self._jacobian])
        if not any(is_long([r]) for r in roots):
            return roots, []
        return share(roots, self.expression._names(), ascii)

    @_bounded
    def text(self, ascii: bool = False, steps: bool = False) -> str:
        pr = functools.partial(to_text, ascii=ascii)
        e = self.expression
        x = self.wrt.name
        partial = "d" if ascii else "∂"
        # long results name their repeated subexpressions once (z₁ = …), so that the
        # output of a depth-k composition grows linearly with k
        (deriv, df, *jac), bindings = self._shared(ascii)
        f = e.tree
        if self.is_scalar:
            lines = [f"{partial}f/{partial}{x} = {pr(deriv)}    [{self.shape_note(ascii)}]"]
        else:
            size = shape_str(self._jacobian.shape, ascii)
            lines = [f"DF = {pr(jac[0])}    [Jacobian, {size}: vec dF = J vec d{x} (numerator layout)]"]
            if self.layout == "denominator":
                lines.append(f"{partial}F/{partial}{x} = {pr(deriv)}    [{self.shape_note(ascii)}]")
        lines.append("")
        lines.append(f"  f  = {pr(f)}")
        lines.append(f"  df = {pr(df)}")
        for name, value in bindings:
            lines.append(f"  {name} = {pr(value)}")
        lines.append(f"  where {e.where(ascii)}")
        lines.extend(f"  {ascii_words(n) if ascii else n}" for n in self.notes_text(ascii))
        if steps:
            lines.append("")
            lines.append("Derivation:")
            lines.append(self.steps.text(ascii, indent=" "))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"<Derivative {self.name} = {self.derivative.text()}>"

    @_bounded
    def latex(self, check: Any = None) -> str:
        """Everything the text output carries, typeset: an ``aligned`` block with the
        derivative (its shape and layout), the Jacobian for a matrix F, f and df, the named
        shared subexpressions of a long result, the declarations, the notes and, given
        ``check`` (a :class:`~matcalc.checking.result.CheckResult` or a line of text), the
        check's verdict.  :meth:`steps` has its own ``.latex()``."""
        x = latex_name(self.wrt.name)
        f = "f" if self.is_scalar else "F"
        (deriv, df, *jac), bindings = self._shared()
        tree = self.expression.tree
        shape = _latex_shape(self._derivative.shape)
        rows = []
        if self.is_scalar:
            of = rf"${x}^{{\top}}$" if self.layout == "numerator" else f"${x}$"
            rows.append(rf"\frac{{\partial f}}{{\partial {x}}} &= {to_latex(deriv)} && \in \mathbb{{R}}^{{{shape}}}"
                        rf"\ \text{{(the shape of {of}; {self.layout} layout)}}")
        else:
            rows.append(rf"\mathsf{{D}}F &= {to_latex(jac[0])} && \in \mathbb{{R}}^{{{_latex_shape(self._jacobian.shape)}}}"
                        rf"\ \text{{(the Jacobian: $\operatorname{{vec}} \mathrm{{d}}F = \mathsf{{D}}F \operatorname{{vec}}"
                        rf" \mathrm{{d}}{x}$; numerator layout)}}")
            if self.layout == "denominator":
                rows.append(rf"\frac{{\partial F}}{{\partial {x}}} &= {to_latex(deriv)} && \in \mathbb{{R}}^{{{shape}}}"
                            r"\ \text{(the transpose of the Jacobian; denominator layout)}")
        rows.append(rf"{f} &= {to_latex(tree)}")
        rows.append(rf"\mathrm{{d}}{f} &= {to_latex(df)}")
        rows.extend(rf"{latex_name(name)} &= {to_latex(value)}" for name, value in bindings)
        rows.append(rf"& \text{{where }} {self.expression.latex_where()}")
        rows.extend(rf"& \text{{{latex_text(n)}}}" for n in self.notes)
        if check is not None:
            rows.append(rf"& \text{{{latex_text(str(check))}}}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    @_bounded
    def markdown(self, steps: bool = False, check: Any = None) -> str:
        """The result as a snippet for notes: the LaTeX block in ``$$ … $$`` (the notes and
        the check's verdict in words below it), and the derivation as a second block."""
        out = ["$$", self.latex(), "$$"]
        if check is not None:
            out += ["", str(check)]
        if steps:
            out += ["", "Derivation:", "", "$$", self.steps.latex(), "$$"]
        return "\n".join(out)

    @_bounded
    def _repr_latex_(self) -> str:
        """f, df, the gradient or Jacobian with its shape and layout, and the SymPy check."""
        return f"$${self.latex(check=self.check())}$$"

    @_bounded
    def to_dict(self, check: Any = None) -> dict[str, Any]:
        """Everything, JSON-ready, in the schema of ``matcalc/schema/result.schema.json``
        (kind ``derivative``); the expressions re-parse with ``where``.  ``check``: the
        check's result (a :class:`~matcalc.checking.result.CheckResult` or its dict), else
        the one this derivative has run, if any.

        Each expression is ``{"text", "ascii", "latex", "shape", "bindings"}``: a long one
        (more than 400 characters in full) names its shared subexpressions ``z₁, z₂, …``,
        and ``bindings`` lists them in order, each with its ``name``, ``ascii_name``,
        ``latex_name``, ``text``, ``ascii``, ``latex`` and ``shape``; a binding uses only
        the names bound before it.  A short one has ``"bindings": []``.
        """
        taken = self.expression._names()

        def both(e: Expr | None) -> dict[str, Any] | None:
            return None if e is None else forms(e, taken)

        e = self.expression
        if check is None and self._checked is not None:
            check = self._checked
        f = "f" if self.is_scalar else "F"
        out = {
            "version": SCHEMA_VERSION,
            "kind": "derivative",
            "expression": e.forms(),
            "wrt": self.wrt.name,
            "layout": self.layout,
            "scalar": self.is_scalar,
            "where": e.where(),
            "variables": e.variables(),
            "shapes": e.shapes,
            "functions": e.function_list(),
            "differential": both(self._differential),
            "gradient": both(self._gradient),
            "jacobian": both(self._jacobian),
            "derivative": {**(both(self._derivative) or {}), "note": self.shape_note()},
            "steps": [{"rule": s.rule, "rule_latex": rule_latex(s.rule) if s.rule else "",
                       "lhs": f"d{f}" if s.lhs == "d f" else s.lhs,
                       "lhs_latex": _latex_lhs(s.lhs, f), "text": s.text(), "latex": s.latex()} for s in self.steps],
            "assumptions": list(e.assumptions),
            "notes": self.notes,
        }
        if check is not None:
            out["check"] = check if isinstance(check, dict) else check.to_dict()
        return out




def diff(expr: str | Expression, wrt: str, where: str | Mapping[str, object] | None = None,
         layout: str = "denominator", timeout: float | None = API_TIMEOUT) -> Derivative:
    """Differentiate ``expr`` with respect to the variable ``wrt``.  ``timeout``: seconds
    parsing and differentiating may take (default 60, or the time limit already in force;
    None: unbounded), then :class:`matcalc.TimeLimitError`.

    >>> r = diff("tr(A X B)", "X")
    >>> print(r.gradient)
    Aᵀ Bᵀ
    >>> print(diff("x' A x", "x").gradient)
    (A + Aᵀ) x
    >>> print(diff("A X B", "X").jacobian)
    Bᵀ ⊗ A
    """
    with api_bound(timeout, "differentiating"):
        return _diff(expr, wrt, where, layout)


def _diff(expr: str | Expression, wrt: str, where: str | Mapping[str, object] | None, layout: str) -> Derivative:
    if isinstance(expr, Expression) and where is not None:
        raise DeclarationError("the expression is already parsed with its declarations: pass where= to "
                               "parse(), or pass the expression as a string", None)
    e = expr if isinstance(expr, Expression) else parse(expr, where)
    if not isinstance(wrt, str):
        raise DiffError(f"the variable to differentiate with respect to must be a name, not {wrt!r}", None)
    if not wrt.strip():
        names = ", ".join(sorted(e.shapes))
        raise DiffError(f"the variable to differentiate with respect to is empty: give one of {e}'s variables "
                        f"({names})" if names else "the variable to differentiate with respect to is empty", None)
    unused = tuple(unused_declarations(e, allowed=(wrt,)))
    try:
        if wrt in e.shapes:
            return Derivative(e, e.variable(wrt), layout, unused)
        if wrt in e.decls.variables:  # declared but absent: f does not depend on it, the derivative is 0
            return Derivative(e, parse(wrt, e.decls).tree, layout, unused)
    except MatcalcError as err:  # a missing rule points into the expression
        raise err.located(e.source, e.spans) from None
    except RecursionError:
        raise MatcalcError(TOO_DEEP, None, e.source) from None
    size = size_meaning(e.tree, wrt)
    if size is not None:  # ‖X w − y‖² / m: m is a number of rows, not something to vary
        raise DiffError(f"{wrt} is a size ({size}), not a variable: a size used as a number is constant", None)
    names = sorted(e.shapes)
    near = closest(wrt, names)
    hint = f" (the variables are {', '.join(names)}{f'; did you mean {near}?' if near else ''})" if names else ""
    raise DiffError(f"'{wrt}' is not a variable of {e}{hint}; to differentiate with respect to a variable "
                    f"f does not contain, declare it (--where \"{wrt}: m×n\")", None)


def unused_declarations(e: Expression, allowed: tuple[str, ...] = ()) -> list[str]:
    """A declared name that the expression does not use is never silently ignored: one
    that looks like an undeclared name the expression has (``s: symmetric`` for S,
    ``Sigma`` for Σ) is an error, since the answer would not be what the user believes;
    any other is a note for the output, which this returns."""
    used = set(e.shapes) | set(e.functions) | set(allowed)
    names = sorted(set(e.shapes) | set(e.functions))
    notes = []
    for name in [*e.decls.variables, *e.decls.functions]:
        if name in used:
            continue
        near = closest(name, names)
        if near is None or near in e.decls.variables or near in e.decls.functions:
            notes.append(f"{name} is declared but not used")
            continue
        source = e.decls.source
        at = re.search(rf"(?<![\w]){re.escape(name)}(?=[\s,:])", source) if source else None
        raise DeclarationError(f"'{name}' is declared but not used in {e} (did you mean {near}?)",
                               at.span() if at else None, source)
    return notes


def _kinks(f: Expr, wrt: Var) -> list[str]:
    """Where f is not differentiable: abs, sign, relu and ‖·‖₁ have a kink where an entry
    of their argument is 0, and the derivative holds away from it."""
    dep: dict[Expr, bool] = {}
    depends_on(f, wrt, dep)
    calls = [n for n in f.walk() if isinstance(n, Call) and n.fn.kink and dep.get(n.args[0], False)]
    args = {n.args[0]: None for n in calls}
    if is_long(list(args)):  # a deep relu network: one note per function, not one per layer
        count = Counter(n.fn.name for n in calls)
        return [f"holds where no entry of an argument of {name} is 0 ({name} is applied {k} times)"
                for name, k in count.items()]
    return [f"holds where no entry of {to_text(a)} is 0" if not a.is_scalar else f"holds where {to_text(a)} ≠ 0"
            for a in args]


def _conditions(f: Expr, answer: Expr) -> list[str]:
    """Where an answer holds that f itself does not already require: the answer inverts a
    matrix that f never inverts (det X has the gradient det(X) X⁻ᵀ where X is invertible,
    adj(X)ᵀ everywhere)."""

    def inverted(t: Expr) -> set[Expr]:
        out = set()
        for n in t.walk():
            m = F.inverted_matrix(n)
            if m is not None:
                out.add(m.arg if isinstance(m, Transpose) else m)
        return out

    needed = sorted(inverted(answer) - inverted(f), key=to_text)
    out = [f"holds where {to_text(m)} is invertible ({to_text(F.ADJ(m))} = {to_text(mul(F.DET(m), F.INV(m)))} there)"
           for m in needed]
    adjugates = sorted({m for n in answer.walk() if (m := F.adjugate_arg(n)) is not None
                        and not m.is_scalar and _may_be_invertible(m)}, key=to_text)
    for m in adjugates:  # adj(A X B) everywhere; the textbook's det · inverse form where that is defined
        invertible = map_bottom_up(answer, lambda n, m=m: mul(F.DET(m), F.INV(m)) if F.adjugate_arg(n) == m else n)
        out.append(f"where {to_text(m)} is invertible, adj({to_text(m)}) = {to_text(mul(F.DET(m), F.INV(m)))}: "
                   f"this is {to_text(canonical(invertible))} (the adjugate form holds everywhere)")
    return out


def _may_be_invertible(m: Expr) -> bool:
    """Can the square ``m`` be invertible for some sizes and values?  Not a product through a
    vector (u uᵀ has rank 1) or through a numeric size smaller than its own."""
    if not isinstance(m, MatMul):
        return True
    chain = [f for f in m.factors if not f.is_scalar]
    inner = [f.shape[1] for f in chain[:-1]]
    outer = m.shape[0]
    return not any(d == 1 or (isinstance(d, int) and isinstance(outer, int) and d < outer) for d in inner)


def check(expr: str | Expression, wrt: str, claim: str, where: str | Mapping[str, object] | None = None,
          layout: str = "denominator", timeout: float = 10.0, hessian: bool = False) -> Any:
    """Is ``claim`` the gradient (or derivative) of ``expr`` with respect to ``wrt``?
    With ``hessian=True``: is it the Hessian (the matrix H, or H[V] applied to a direction
    V of the claim's own, see :func:`matcalc.hessian.check_hessian`)?

    Returns a :class:`matcalc.checking.verdict.Verdict`: ``.correct``, ``.diagnosis`` (how a wrong
    claim is wrong), ``.answer``, ``.counterexample``, ``.text()``.  The verdict comes
    from SymPy, entry by entry, at small concrete sizes.

    >>> check("x' A x", "x", "(A + A') x").correct
    True
    """
    if hessian:
        from .hessian import check_hessian

        return check_hessian(expr, wrt, claim, where, timeout=timeout)
    from .checking.verdict import judge  # NumPy and SymPy: imported when a check is asked for

    r = diff(expr, wrt, where, layout=layout)
    return judge(r, parse_claim(claim, r), diff, timeout=timeout)


def parse_claim(claim: str, r: Derivative) -> Expression:
    """A claimed derivative of ``r``'s expression, read with its declarations and the
    derivative's shape ("0" is the zero matrix of that shape).  A name the expression does
    not have is an error, as is a claim that does not parse (said to be in the claim)."""
    e = r.expression
    try:
        c = parse(claim, e.where(), expect=r.derivative.shape)
    except MatcalcError as err:
        raise type(err)(f"in the claim: {err.message}", err.span, claim) from None
    if isinstance(c.tree, Num) and c.tree.value == 0 and r.derivative.shape != (1, 1):  # "0": the zero matrix
        c = Expression(Zeros(r.derivative.shape), claim, c.decls, c._shapes, c.functions)
    extra = sorted(set(c.shapes) - set(e.shapes))
    if extra:
        raise ParseError(f"the claim uses {', '.join(extra)}, which {'is' if len(extra) == 1 else 'are'} not in "
                         f"the expression {e}", None, claim)
    return c


__all__ = ["parse", "diff", "check", "Expression", "Derivative", "Derivation", "Step", "LAYOUTS", "describe_shape"]
