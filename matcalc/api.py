"""The public API: :func:`parse`, :func:`diff`, :func:`hessian` and :func:`check`, and the
objects they return.

The objects are views: :class:`Expression` over a parsed tree and what its reading knows
(declarations, shapes, abstract functions, assumptions); :class:`Derivative` and
:class:`Hessian` over the derivation values of :mod:`matcalc.derive`, printed by the
renderers of :mod:`matcalc.printing.render`.  Checking a claim is :mod:`matcalc.checking`'s.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from .declare import Declarations, closest, may_be_abstract
from .derive import LAYOUTS, FirstOrder, SecondOrder, derive, derive_second
from .derive import Step as StepValue
from .errors import DeclarationError, DiffError, MatcalcError, ParseError, bounded
from .limits import API_TIMEOUT, api_bound
from .nodes import Expr, Num, Size, Var, Zeros
from .printing import render
from .printing.latex import latex_name
from .printing.prose import latex_text
from .printing.render import function_note, latex_shape, latex_space
from .printing.shared import forms, latex_with_bindings, text_with_bindings
from .printing.text import to_text
from .rules.canon import canonical  # noqa: F401 - (tests import it from here; to go)
from .schema import SCHEMA_VERSION
from .shapes import describe_shape, dim_str, shape_json, shape_str
from .syntax import parse_tree, size_meaning


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
        return [{"name": name, "kind": decl.kind, "note": function_note(name, decl, False)}
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
        out = [function_note(name, decl, ascii) for name, decl in self.functions.items()]
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
        return text_with_bindings(self.tree, self.names(), ascii)

    def latex(self) -> str:
        """The expression in LaTeX; a long one as an aligned block with its bindings
        (``\\text{where } z_{1} = …``)."""
        return latex_with_bindings(self.tree, self.names())

    def forms(self) -> dict[str, Any]:
        """Text, ASCII, LaTeX, shape and ``bindings`` (the named shared subexpressions the
        texts use; empty unless the expression is long), JSON-ready."""
        return forms(self.tree, self.names())

    def names(self) -> set[str]:
        """Every name the expression's reading knows: variables, functions, declarations
        (what a named subexpression z₁ or a direction V must not be called)."""
        return set(self._shapes) | set(self.functions) | set(self.decls.variables)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Expression({self.text()!r}, shape {shape_str(self.shape)})"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()} \\quad \\in \\mathbb{{R}}^{{{latex_shape(self.shape)}}}$"

    def latex_where(self) -> str:
        """The variables' shapes in LaTeX: ``A \\in \\mathbb{R}^{m \\times n},\\ x \\in \\mathbb{R}^{n}``."""
        symmetric = {n.name for n in self.tree.walk() if isinstance(n, Var) and n.symmetric}
        parts = []
        for name, shape in self._shapes.items():
            parts.append(rf"{latex_name(name)} \in {latex_space(shape)}" + (r"\ \text{symmetric}" if name in symmetric else ""))
        return r",\ ".join(parts)

    def latex_block(self) -> str:
        """What ``matcalc parse`` prints, typeset: an ``aligned`` block with the expression
        and its shape, the variables' shapes, and the notes (abstract functions, what the
        reading assumed)."""
        rows = [rf"f &= {self.latex()} && \in {latex_space(self.shape)}"]
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


# ======================================================================================
# Steps
# ======================================================================================


class Step(StepValue):
    """One step of a derivation (:class:`matcalc.derive.Step`), printable."""

    def text(self, ascii: bool = False) -> str:
        """The step's expression (long: with its shared subexpressions named, one a line)."""
        return render.step_text(self, ascii)

    def latex(self) -> str:
        return render.step_latex(self)

    def __str__(self) -> str:
        """``df = xᵀ A dx    [d(AB) = (dA) B + A dB]``: the step as the derivation prints it."""
        return render.step_line(self)

    def __repr__(self) -> str:
        return f"Step({self.rule!r}, {self.text()!r}, lhs={self.lhs!r})"


class Derivation(list):
    """The steps of a derivation (a list of :class:`Step`); in Jupyter it renders as an
    aligned derivation, each line with the rule that produced it.  ``function``: f for a
    scalar, F for a matrix."""

    def __init__(self, steps: tuple[StepValue, ...] = (), function: str = "f"):
        super().__init__(Step(s.rule, s.expr, s.lhs) for s in steps)
        self.function = function

    def text(self, ascii: bool = False, indent: str = "") -> str:
        return render.steps_text(self, ascii, indent)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # the text/plain form in a notebook, and in a REPL
        return self.text()

    def latex(self) -> str:
        """An ``aligned`` block: ``\\mathrm{d}f &= …`` rows, each with its rule, then the
        identification on a line of its own."""
        return render.steps_latex(self, self.function)

    def _repr_latex_(self) -> str:
        return f"$${self.latex()}$$"


# ======================================================================================
# Results
# ======================================================================================


class _Result:
    """What :class:`Derivative` and :class:`Hessian` share: the expression they came from,
    results wrapped as expressions with its declarations, notes, printing, and the SymPy
    check (run once, kept when it reached a verdict)."""

    expression: Expression
    _checked: Any = None

    def _wrap(self, tree: Expr | None, extra: dict[str, tuple] | None = None) -> Expression | None:
        if tree is None:
            return None
        e = self.expression
        return Expression(tree, None, e.decls, {**e._shapes, **(extra or {})}, e.functions, e.assumptions)

    @property
    def notes(self) -> list[str]:
        """What a reader must know about the answer: abstract functions, assumptions the
        reading made, conditions under which the answer holds."""
        return self.notes_text()

    def notes_text(self, ascii: bool = False) -> list[str]:
        return self.expression.notes(ascii) + render.condition_words(self._value.conditions, ascii)

    @property
    def _value(self) -> FirstOrder | SecondOrder:
        raise NotImplementedError

    def text(self, ascii: bool = False, steps: bool = False) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text()

    def _repr_latex_(self) -> str:
        """The result typeset, with its SymPy check."""
        return f"$${self.latex(check=self.check())}$$"

    def latex(self, check: Any = None) -> str:
        raise NotImplementedError

    def markdown(self, steps: bool = False, check: Any = None) -> str:
        """The result as a snippet for notes: the LaTeX block in ``$$ … $$`` (the check's
        verdict in words below it), and the derivation as a second block."""
        return render.markdown(self.latex(), check, self.steps.latex() if steps else None)

    @property
    def steps(self) -> Derivation:
        raise NotImplementedError

    def _check(self, claimed: Expr, timeout: float, **how: Any) -> Any:
        from .checking import sympy_oracle  # SymPy is heavy: imported only when a check is asked for

        if self._checked is not None:
            return self._checked
        result = sympy_oracle.check_derivative(self.expression.tree, self._value.wrt, claimed, timeout=timeout,
                                               **how)
        if result.ok is not None:
            self._checked = result
        return result


class Derivative(_Result):
    """What :func:`diff` returns: a view of a :class:`matcalc.derive.FirstOrder`.

    ``differential`` (df, canonical), ``gradient`` (for scalar f: the matrix G with
    df = tr(Gᵀ dX), shaped like X; ``None`` otherwise), ``jacobian`` (DF with
    vec dF = J vec dX, always), ``derivative`` (∂f/∂X in the chosen ``layout``), and
    ``steps``, the derivation.  Each is an :class:`Expression`; :meth:`text`,
    :meth:`latex` and :meth:`to_dict` print them.
    """

    def __init__(self, expression: Expression, value: FirstOrder):
        self.expression = expression
        self.value = value

    @property
    def _value(self) -> FirstOrder:
        return self.value

    @property
    def wrt(self) -> Var:
        return self.value.wrt

    @property
    def layout(self) -> str:
        return self.value.layout

    @property
    def is_scalar(self) -> bool:
        return self.value.is_scalar

    @property
    @bounded
    def differential(self) -> Expression:
        """df, in canonical form (in terms of dX)."""
        return self._wrap(self.value.differential)  # type: ignore[return-value]

    @property
    @bounded
    def gradient(self) -> Expression | None:
        """G with df = tr(Gᵀ dX), the shape of X; None when the expression is not scalar."""
        return self._wrap(self.value.gradient)

    @property
    @bounded
    def jacobian(self) -> Expression:
        """DF = J with vec dF = J vec dX (for a scalar f, (vec G)ᵀ)."""
        return self._wrap(self.value.jacobian)  # type: ignore[return-value]

    @property
    @bounded
    def derivative(self) -> Expression:
        """∂f/∂X in the chosen layout."""
        return self._wrap(self.value.derivative)  # type: ignore[return-value]

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

        return evaluate(self.value.derivative, {**(values or {}), **kw}, dims, sizes_from=self.expression.tree)

    @bounded
    def check(self, timeout: float = 10.0) -> Any:
        """Check this result entry by entry with SymPy at small concrete sizes.

        Returns a :class:`matcalc.checking.result.CheckResult`; ``bool(result)`` is True when the
        gradient (or Jacobian) is right.  Imports SymPy on first use.  The first result
        with a verdict is kept, and shown with the result in Jupyter.
        """
        v = self.value
        return self._check(v.gradient if v.gradient is not None else v.jacobian, timeout, name="matcalc's answer")

    @property
    def name(self) -> str:
        """∂f/∂X for a scalar f, ∂F/∂X otherwise."""
        return render.first_order_name(self.value)

    @bounded
    def shape_note(self, ascii: bool = False) -> str:
        return render.first_order_shape_note(self.value, ascii)

    @functools.cached_property
    @bounded
    def steps(self) -> Derivation:
        """The derivation, rule by rule, as seed 001 writes it by hand."""
        return Derivation(self.value.steps, "f" if self.is_scalar else "F")

    @bounded
    def text(self, ascii: bool = False, steps: bool = False) -> str:
        return render.first_order_text(self.value, self.expression, self.notes_text(ascii), ascii, steps)

    def __repr__(self) -> str:
        return f"<Derivative {self.name} = {self.derivative.text()}>"

    @bounded
    def latex(self, check: Any = None) -> str:
        """Everything the text output carries, typeset: an ``aligned`` block with the
        derivative (its shape and layout), the Jacobian for a matrix F, f and df, the named
        shared subexpressions of a long result, the declarations, the notes and, given
        ``check`` (a :class:`~matcalc.checking.result.CheckResult` or a line of text), the
        check's verdict.  :meth:`steps` has its own ``.latex()``."""
        return render.first_order_latex(self.value, self.expression, self.notes, check)

    @bounded
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
        return render.first_order_json(self.value, self.expression, self.notes,
                                       check if check is not None else self._checked)


class Hessian(_Result):
    """What :func:`hessian` returns, a view of a :class:`matcalc.derive.SecondOrder`:
    ``hessian`` (H, with vec dG = H vec dX), ``hvp`` (H[V], the Hessian applied to a
    direction V shaped like X), ``gradient``, ``steps``; printed by :meth:`text`,
    :meth:`latex`, :meth:`to_dict`; checked by :meth:`check`."""

    def __init__(self, expression: Expression, value: SecondOrder):
        self.expression = expression
        self.value = value

    @property
    def _value(self) -> SecondOrder:
        return self.value

    @property
    def wrt(self) -> Var:
        return self.value.wrt

    @property
    def wrt2(self) -> Var | None:
        return self.value.wrt2

    @property
    def direction(self) -> str:
        """The name of the direction of H[V]: V (a matrix), v (a vector or a scalar), a
        name f does not use."""
        return self.value.direction.name

    @property
    def first(self) -> Derivative:
        """The first derivative, as :func:`diff` gives it."""
        return Derivative(self.expression, self.value.first)

    @property
    def hessian(self) -> Expression:
        """H = ∂²f/∂vec X ∂(vec X)ᵀ (or ∂²f/∂vec X ∂(vec Y)ᵀ), with vec dG = H vec dX."""
        return self._wrap(self.value.hessian)  # type: ignore[return-value]

    @property
    def hvp(self) -> Expression:
        """H[V]: the Hessian applied to V, shaped like the gradient (dG with dX = V)."""
        return self._wrap(self.value.hvp, {self.direction: self.value.second.shape})  # type: ignore[return-value]

    @property
    def gradient(self) -> Expression:
        return self._wrap(self.value.first.gradient)  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return render.second_order_name(self.value)

    def shape_note(self, ascii: bool = False) -> str:
        return render.second_order_shape_note(self.value, ascii)

    @functools.cached_property
    @bounded
    def steps(self) -> Derivation:
        """d²f = tr(dGᵀ dX), vec dG = H vec dX, then H and H[V]."""
        return Derivation(self.value.steps)

    @bounded
    def text(self, ascii: bool = False, steps: bool = False) -> str:
        return render.second_order_text(self.value, self.expression, self.hvp.where(ascii),
                                        self.notes_text(ascii), ascii, steps)

    def __repr__(self) -> str:
        return f"<Hessian {self.name} = {to_text(self.value.hessian)}>"

    @bounded
    def latex(self, check: Any = None) -> str:
        """An ``aligned`` block: H with its shape, H[V], f, ∇f, the declarations, the notes
        and, given ``check``, the check's verdict."""
        return render.second_order_latex(self.value, self.expression, self.hvp.latex_where(), self.notes, check)

    @bounded
    def to_dict(self, check: Any = None) -> dict[str, Any]:
        """JSON-ready, in the schema of ``matcalc/schema/result.schema.json`` (kind ``hessian``)."""
        return render.second_order_json(self.value, self.expression, self.hvp.where(), self.notes,
                                        check if check is not None else self._checked)

    @bounded
    def check(self, timeout: float = 10.0) -> Any:
        """Compare H entry by entry with SymPy's second partial derivatives of f itself (at
        sizes 3 and up, then one larger; mixed ones for a mixed derivative)."""
        return self._check(self.value.hessian, timeout, name="matcalc's Hessian", order=2, wrt2=self.wrt2)


# ======================================================================================
# Differentiating
# ======================================================================================


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
        e = _expression(expr, where)
        x = _variable(e, wrt)
        try:
            return Derivative(e, derive(e.tree, x, layout, tuple(unused_declarations(e, allowed=(wrt,)))))
        except MatcalcError as err:  # a missing rule points into the expression
            raise err.located(e.source, e.spans) from None


def hessian(expr: str | Expression, wrt: str, wrt2: str | None = None,
            where: str | Mapping[str, object] | None = None, timeout: float | None = API_TIMEOUT) -> Hessian:
    """The Hessian of the scalar ``expr`` with respect to ``wrt`` (with ``wrt2``: the mixed
    second derivative ∂²f/∂vec X ∂(vec Y)ᵀ).  ``timeout`` as for :func:`diff`.

    >>> h = hessian("x' A x", "x")
    >>> print(h.hessian)
    A + Aᵀ
    >>> print(h.hvp)
    (A + Aᵀ) v
    """
    with api_bound(timeout, "differentiating twice"):
        e = _expression(expr, where)
        if not e.tree.is_scalar:
            raise DiffError(f"a Hessian is of a scalar expression; {e} is {shape_str(e.shape)} "
                            "(differentiate it with diff for its Jacobian)", None)
        first = diff(e, wrt)
        y = None
        if wrt2 is not None and wrt2 != wrt:
            if wrt2 not in e.shapes:
                raise MatcalcError(f"'{wrt2}' is not a variable of {e}", None)
            y = e.variable(wrt2)
        try:
            return Hessian(e, derive_second(first.value, y, frozenset(e.names())))
        except MatcalcError as err:
            raise err.located(e.source, e.spans) from None


def _expression(expr: str | Expression, where: str | Mapping[str, object] | None) -> Expression:
    if isinstance(expr, Expression):
        if where is not None:
            raise DeclarationError("the expression is already parsed with its declarations: pass where= to "
                                   "parse(), or pass the expression as a string", None)
        return expr
    return parse(expr, where)


def _variable(e: Expression, wrt: str) -> Var:
    """The variable ``wrt`` of ``e`` (declared but absent: a variable f does not depend on),
    or an error that says what ``wrt`` is instead."""
    if not isinstance(wrt, str):
        raise DiffError(f"the variable to differentiate with respect to must be a name, not {wrt!r}", None)
    if not wrt.strip():
        names = ", ".join(sorted(e.shapes))
        raise DiffError(f"the variable to differentiate with respect to is empty: give one of {e}'s variables "
                        f"({names})" if names else "the variable to differentiate with respect to is empty", None)
    if wrt in e.shapes:
        return e.variable(wrt)
    if wrt in e.decls.variables:  # declared but absent: f does not depend on it, the derivative is 0
        return parse(wrt, e.decls).tree  # type: ignore[return-value]
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


# ======================================================================================
# Checking a claim
# ======================================================================================


def check(expr: str | Expression, wrt: str, claim: str, where: str | Mapping[str, object] | None = None,
          layout: str = "denominator", timeout: float = 10.0, hessian: bool = False) -> Any:
    """Is ``claim`` the gradient (or derivative) of ``expr`` with respect to ``wrt``?
    With ``hessian=True``: is it the Hessian (the matrix H, or H[V] applied to a direction
    V of the claim's own, see :func:`check_hessian`)?

    Returns a :class:`matcalc.checking.verdict.Verdict`: ``.correct``, ``.diagnosis`` (how a wrong
    claim is wrong), ``.answer``, ``.counterexample``, ``.text()``.  The verdict comes
    from SymPy, entry by entry, at small concrete sizes.

    >>> check("x' A x", "x", "(A + A') x").correct
    True
    """
    if hessian:
        return check_hessian(expr, wrt, claim, where, timeout=timeout)
    from .checking.verdict import judge  # NumPy and SymPy: imported when a check is asked for

    r = diff(expr, wrt, where, layout=layout)
    return judge(r, parse_claim(claim, r), timeout=timeout)


def check_hessian(expr: str | Expression, wrt: str, claim: str, where: str | Mapping[str, object] | None = None,
                  wrt2: str | None = None, timeout: float = 10.0) -> Any:
    """Is ``claim`` the Hessian of ``expr`` with respect to ``wrt`` (and ``wrt2``)?  The claim is
    either the matrix H = ∂²f/∂vec X ∂(vec X)ᵀ (n×n for a vector x; ``kron``, ``K_{n,n}``
    for a matrix), or H[V], the Hessian applied to a direction: a name the expression does
    not use, shaped like X (``A V B + A' V B'``).  Returns a :class:`Verdict`, from SymPy's
    own second partials of f.

    >>> check_hessian("x' A x", "x", "A + A'").correct
    True
    >>> check_hessian("tr(X' A X B)", "X", "A V B + A' V B'").correct
    True
    """
    from .checking.verdict import judge_hessian  # NumPy and SymPy: imported when a check is asked for

    h = hessian(expr, wrt, wrt2, where)
    c, direction = parse_hessian_claim(claim, h)
    return judge_hessian(h, c, direction, timeout=timeout)


def parse_claim(claim: str, r: Derivative) -> Expression:
    """A claimed derivative of ``r``'s expression, read with its declarations and the
    derivative's shape ("0" is the zero matrix of that shape).  A name the expression does
    not have is an error, as is a claim that does not parse (said to be in the claim)."""
    e = r.expression
    c = _read_claim(claim, e.where(), r.derivative.shape)
    extra = sorted(set(c.shapes) - set(e.shapes))
    if extra:
        raise ParseError(f"the claim uses {', '.join(extra)}, which {'is' if len(extra) == 1 else 'are'} not in "
                         f"the expression {e}", None, claim)
    return c


def parse_hessian_claim(claim: str, h: Hessian) -> tuple[Expression, Var | None]:
    """The claimed H, or H[V] when the claim has one name the expression does not (V,
    declared shaped like the variable, symmetric with it)."""
    e = h.expression
    where = e.where()
    y = h.wrt2 or h.wrt
    first = _read_claim(claim, where, None)
    extra = sorted(set(first.shapes) - set(e.shapes))
    if not extra:
        return _read_claim(claim, where, h.value.hessian.shape), None
    if len(extra) > 1:
        raise ParseError(f"the claim uses {', '.join(extra)}, which are not in the expression {e} (a claimed "
                         f"Hessian applied to a direction has one name of its own, such as {h.direction})", None, claim)
    name = extra[0]
    r, k = y.shape
    spec = "scalar" if y.is_scalar else dim_str(r) if k == 1 else f"{dim_str(r)}×{dim_str(k)}"
    symmetric = " symmetric" if y.symmetric and not y.is_scalar else ""
    c = _read_claim(claim, f"{where}, {name}: {spec}{symmetric}" if where else f"{name}: {spec}{symmetric}", y.shape)
    return c, c.variable(name)


def _read_claim(claim: str, where: str, shape: tuple | None) -> Expression:
    """A claim read with the expression's declarations, its errors said to be in the claim;
    ``0`` of a matrix shape is the zero matrix."""
    try:
        c = parse(claim, where, expect=shape)
    except MatcalcError as err:
        raise type(err)(f"in the claim: {err.message}", err.span, claim) from None
    if shape is not None and isinstance(c.tree, Num) and c.tree.value == 0 and shape != (1, 1):
        c = Expression(Zeros(shape), claim, c.decls, c._shapes, c.functions)
    return c


__all__ = ["parse", "diff", "hessian", "check", "check_hessian", "Expression", "Derivative", "Hessian",
           "Derivation", "Step", "LAYOUTS", "describe_shape"]
