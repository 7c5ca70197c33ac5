"""Renderers: a derivation (:mod:`matcalc.derive`) as text, LaTeX, Markdown and JSON.

Each renderer takes the derivation value and its *source* — what the parse read: the
expression's tree, its declarations and inferred shapes, its abstract functions and what
the reading assumed (:class:`Source`, which :class:`matcalc.api.Expression` is) — and
returns a string or a JSON-ready dict in the schema of ``matcalc/schema/result.schema.json``.
Long results name their shared subexpressions once (:mod:`.shared`), so that the output of
a depth-k composition grows linearly with k; conditions are worded here
(:func:`condition_words`), as are the steps.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from .. import functions as F
from ..algebra import mul
from ..derive import Condition, FirstOrder, SecondOrder, Step
from ..nodes import Expr
from ..schema import SCHEMA_VERSION
from ..shapes import dim_str, shape_str
from .latex import latex_name, to_latex
from .prose import latex_text, rule_latex
from .shared import forms, is_long, latex_with_bindings, share, text_with_bindings
from .shared import names as used_names
from .text import ascii_words, to_text


class Source(Protocol):
    """What a renderer needs of the expression a result came from."""

    tree: Expr

    def text(self, ascii: bool = False) -> str: ...
    def where(self, ascii: bool = False) -> str: ...
    def latex_where(self) -> str: ...
    def notes(self, ascii: bool = False) -> list[str]: ...
    def forms(self) -> dict[str, Any]: ...
    def variables(self) -> list[dict[str, Any]]: ...
    def function_list(self) -> list[dict[str, Any]]: ...
    def names(self) -> set[str]: ...

    @property
    def shapes(self) -> dict[str, str]: ...

    @property
    def assumptions(self) -> list[str]: ...


# ======================================================================================
# Shapes and spaces in LaTeX
# ======================================================================================


def latex_dim(d: Any) -> str:
    return dim_str(d).replace("·", r" \cdot ")


def latex_shape(shape: tuple) -> str:
    return rf"{latex_dim(shape[0])} \times {latex_dim(shape[1])}"


def latex_space(shape: tuple) -> str:
    """ℝ, ℝⁿ or ℝ^{m×n}, in LaTeX."""
    r, c = shape
    if (r, c) == (1, 1):
        return r"\mathbb{R}"
    return rf"\mathbb{{R}}^{{{latex_dim(r) if c == 1 else latex_shape((r, c))}}}"


# ======================================================================================
# Conditions
# ======================================================================================


def condition_words(conditions: Sequence[Condition], ascii: bool = False) -> list[str]:
    """Each condition in words; the kinks of a long expression (a deep relu network)
    once per function, not once per layer."""
    kinks = [c for c in conditions if c.kind == "kink"]
    summarised = is_long([c.subject for c in kinks])  # type: ignore[misc]
    out: list[str] = []
    counted = Counter(c.name for c in kinks)
    for c in conditions:
        if c.kind == "kink" and summarised:
            line = f"holds where no entry of an argument of {c.name} is 0 ({c.name} is applied {counted[c.name]} times)"
            if line in out:
                continue
        else:
            line = _words(c)
        out.append(ascii_words(line) if ascii else line)
    return out


def _words(c: Condition) -> str:
    t = to_text
    if c.kind == "invertible":
        m = c.subject
        assert m is not None
        return f"holds where {t(m)} is invertible ({t(F.ADJ(m))} = {t(mul(F.DET(m), F.INV(m)))} there)"
    if c.kind == "adjugate":
        m, alt = c.subject, c.alternative
        assert m is not None and alt is not None
        return (f"where {t(m)} is invertible, adj({t(m)}) = {t(mul(F.DET(m), F.INV(m)))}: this is {t(alt)} "
                "(the adjugate form holds everywhere)")
    if c.kind == "kink":
        a = c.subject
        assert a is not None
        return f"holds where {t(a)} ≠ 0" if a.is_scalar else f"holds where no entry of {t(a)} is 0"
    if c.kind == "constant":
        if c.order == 2:
            return f"the gradient does not depend on {c.name}: the Hessian is zero"
        return f"f does not depend on {c.name}: its derivative is zero"
    return c.name  # a note of the caller's


# ======================================================================================
# Steps
# ======================================================================================

#: the left-hand sides of differentials (a step whose left-hand side is another is a result)
DIFFERENTIALS = ("d f", "vec dF", "d²f", "dG", "vec dG")


def step_text(step: Step, ascii: bool = False) -> str:
    """The step's expression (long: with its shared subexpressions named, one a line)."""
    return text_with_bindings(step.expr, used_names(step.expr), ascii)


def step_latex(step: Step) -> str:
    return latex_with_bindings(step.expr, used_names(step.expr))


def step_line(step: Step) -> str:
    """``df = xᵀ A dx    [d(AB) = (dA) B + A dB]``: the step as a derivation prints it."""
    lhs = "df" if step.lhs == "d f" else step.lhs
    rule = f"    [{step.rule}]" if step.rule else ""
    main, *bindings = step_text(step).split("\n")
    return "\n".join([f"{lhs} = {main}{rule}", *(f"    {b}" for b in bindings)])


def steps_text(steps: Sequence[Step], ascii: bool = False, indent: str = "") -> str:
    """Numbered lines, each with the rule that produced it."""
    lines = []
    for i, s in enumerate(steps):
        lhs = "df" if s.lhs == "d f" else s.lhs
        rule = f"    [{ascii_words(s.rule) if ascii else s.rule}]" if s.rule else ""
        head = f"{indent}{i + 1:>3}. {ascii_words(lhs) if ascii else lhs} = "
        main, *bindings = step_text(s, ascii).split("\n")  # a long step: its bindings below it
        lines.append(f"{head}{main}{rule}")
        lines.extend(f"{' ' * len(head)}{b}" for b in bindings)
    return "\n".join(lines)


def steps_latex(steps: Sequence[Step], function: str = "f") -> str:
    """An ``aligned`` block: ``\\mathrm{d}f &= …`` rows, each with its rule, then the
    identification on a line of its own (``\\Rightarrow \\frac{\\partial f}{\\partial X} &= …``)."""
    rows = []
    previous = None
    for s in steps:
        lhs = lhs_latex(s.lhs, function)
        shown = "" if lhs == previous else lhs
        if shown and previous is not None and s.lhs not in DIFFERENTIALS:
            shown = rf"\Rightarrow {shown}"  # the identification: what the differential gives
        previous = lhs
        rule = f" && {rule_latex(s.rule)}" if s.rule else ""
        rows.append(rf"{shown} &= {step_latex(s)}{rule}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def lhs_latex(lhs: str, function: str = "f") -> str:
    if lhs == "d f":
        return rf"\mathrm{{d}}{function}"
    if lhs.startswith("∂"):
        f, x = lhs[1:].split("/∂")
        return rf"\frac{{\partial {f}}}{{\partial {latex_name(x)}}}"
    if lhs.startswith("H[") and lhs.endswith("]"):  # the Hessian applied to a direction
        return rf"H[{latex_name(lhs[2:-1])}]"
    return {"vec dF": r"\operatorname{vec} \mathrm{d}F", "DF": r"\mathsf{D}F", "d²f": r"\mathrm{d}^{2} f",
            "dG": r"\mathrm{d}G", "vec dG": r"\operatorname{vec} \mathrm{d}G"}.get(lhs, lhs)


def steps_json(steps: Sequence[Step], function: str, full: bool = True) -> list[dict[str, Any]]:
    """Each step JSON-ready: its rule (and the rule in LaTeX), what it is, its text and LaTeX."""
    out = []
    for s in steps:
        lhs = f"d{function}" if s.lhs == "d f" else s.lhs
        if full:
            out.append({"rule": s.rule, "rule_latex": rule_latex(s.rule) if s.rule else "", "lhs": lhs,
                        "lhs_latex": lhs_latex(s.lhs, function), "text": step_text(s), "latex": step_latex(s)})
        else:
            out.append({"rule": s.rule, "lhs": lhs, "text": step_text(s), "latex": step_latex(s)})
    return out


# ======================================================================================
# First order
# ======================================================================================


def first_order_name(d: FirstOrder) -> str:
    """∂f/∂X for a scalar f, ∂F/∂X otherwise."""
    return f"∂f/∂{d.wrt.name}" if d.is_scalar else f"∂F/∂{d.wrt.name}"


def first_order_shape_note(d: FirstOrder, ascii: bool = False) -> str:
    x = d.wrt
    shape = shape_str(d.derivative.shape, ascii)
    if d.is_scalar:
        if d.layout == "denominator":
            return f"{shape}, the shape of {x.name} (denominator layout)"
        return f"{shape}, the shape of {x.name}{chr(39) if ascii else 'ᵀ'} (numerator layout)"
    if d.layout == "numerator":
        return f"{shape} Jacobian, vec dF = J vec d{x.name} (numerator layout)"
    return f"{shape}, the transpose of the Jacobian (denominator layout)"


def _first_order_shared(d: FirstOrder, source: Source, ascii: bool = False) -> tuple[list[Expr], list[tuple[str, Expr]]]:
    """The derivative, df (and the Jacobian of a matrix F), with the repeated
    subexpressions they share named once (z₁ = …) when one of them is long; the expression
    itself is printed as written."""
    roots = [d.derivative, d.differential] + ([] if d.is_scalar else [d.jacobian])
    if not any(is_long([r]) for r in roots):
        return roots, []
    return share(roots, source.names(), ascii)


def first_order_text(d: FirstOrder, source: Source, notes: Sequence[str], ascii: bool = False,
                     steps: bool = False) -> str:
    """What ``matcalc diff`` prints: the derivative with its shape and layout (and the
    Jacobian of a matrix F), f, df, named subexpressions, the declarations and the notes."""
    pr = functools.partial(to_text, ascii=ascii)
    x = d.wrt.name
    partial = "d" if ascii else "∂"
    (deriv, df, *jac), bindings = _first_order_shared(d, source, ascii)
    if d.is_scalar:
        lines = [f"{partial}f/{partial}{x} = {pr(deriv)}    [{first_order_shape_note(d, ascii)}]"]
    else:
        size = shape_str(d.jacobian.shape, ascii)
        lines = [f"DF = {pr(jac[0])}    [Jacobian, {size}: vec dF = J vec d{x} (numerator layout)]"]
        if d.layout == "denominator":
            lines.append(f"{partial}F/{partial}{x} = {pr(deriv)}    [{first_order_shape_note(d, ascii)}]")
    lines += ["", f"  f  = {pr(source.tree)}", f"  df = {pr(df)}"]
    lines += [f"  {name} = {pr(value)}" for name, value in bindings]
    lines.append(f"  where {source.where(ascii)}")
    lines += [f"  {ascii_words(n) if ascii else n}" for n in notes]
    if steps:
        lines += ["", "Derivation:", steps_text(d.steps, ascii, indent=" ")]
    return "\n".join(lines)


def first_order_latex(d: FirstOrder, source: Source, notes: Sequence[str], check: Any = None) -> str:
    """Everything the text carries, typeset: an ``aligned`` block with the derivative (its
    shape and layout), the Jacobian for a matrix F, f and df, the named shared
    subexpressions of a long result, the declarations, the notes and, given ``check``,
    the check's verdict."""
    x = latex_name(d.wrt.name)
    f = "f" if d.is_scalar else "F"
    (deriv, df, *jac), bindings = _first_order_shared(d, source)
    shape = latex_shape(d.derivative.shape)
    rows = []
    if d.is_scalar:
        of = rf"${x}^{{\top}}$" if d.layout == "numerator" else f"${x}$"
        rows.append(rf"\frac{{\partial f}}{{\partial {x}}} &= {to_latex(deriv)} && \in \mathbb{{R}}^{{{shape}}}"
                    rf"\ \text{{(the shape of {of}; {d.layout} layout)}}")
    else:
        rows.append(rf"\mathsf{{D}}F &= {to_latex(jac[0])} && \in \mathbb{{R}}^{{{latex_shape(d.jacobian.shape)}}}"
                    rf"\ \text{{(the Jacobian: $\operatorname{{vec}} \mathrm{{d}}F = \mathsf{{D}}F \operatorname{{vec}}"
                    rf" \mathrm{{d}}{x}$; numerator layout)}}")
        if d.layout == "denominator":
            rows.append(rf"\frac{{\partial F}}{{\partial {x}}} &= {to_latex(deriv)} && \in \mathbb{{R}}^{{{shape}}}"
                        r"\ \text{(the transpose of the Jacobian; denominator layout)}")
    rows.append(rf"{f} &= {to_latex(source.tree)}")
    rows.append(rf"\mathrm{{d}}{f} &= {to_latex(df)}")
    rows.extend(rf"{latex_name(name)} &= {to_latex(value)}" for name, value in bindings)
    return _block(rows, source, notes, check)


def first_order_json(d: FirstOrder, source: Source, notes: Sequence[str], check: Any = None) -> dict[str, Any]:
    """JSON-ready, kind ``derivative``: every result with its text, ASCII, LaTeX, shape and
    bindings (the named shared subexpressions of a long one), the steps and the notes."""
    taken = source.names()

    def both(e: Expr | None) -> dict[str, Any] | None:
        return None if e is None else forms(e, taken)

    out = {
        "version": SCHEMA_VERSION, "kind": "derivative", "expression": source.forms(), "wrt": d.wrt.name,
        "layout": d.layout, "scalar": d.is_scalar, "where": source.where(), "variables": source.variables(),
        "shapes": source.shapes, "functions": source.function_list(), "differential": both(d.differential),
        "gradient": both(d.gradient), "jacobian": both(d.jacobian),
        "derivative": {**(both(d.derivative) or {}), "note": first_order_shape_note(d)},
        "steps": steps_json(d.steps, "f" if d.is_scalar else "F"),
        "assumptions": list(source.assumptions), "notes": list(notes),
    }
    if check is not None:
        out["check"] = check if isinstance(check, dict) else check.to_dict()
    return out


# ======================================================================================
# Second order
# ======================================================================================


def second_order_name(s: SecondOrder) -> str:
    x, y = s.wrt, s.second
    if x.is_scalar and y.is_scalar:
        return f"∂²f/∂{x.name}∂{y.name}" if s.wrt2 else f"∂²f/∂{x.name}²"
    if x.shape[1] == 1 and y.shape[1] == 1:
        return f"∂²f/∂{x.name}∂{y.name}ᵀ"
    return f"∂²f/∂vec {x.name} ∂(vec {y.name})ᵀ"


def second_order_shape_note(s: SecondOrder, ascii: bool = False) -> str:
    symmetric = "" if s.wrt2 else ", symmetric"
    return f"{shape_str(s.hessian.shape, ascii)}: {second_order_name(s)}{symmetric}"


def second_order_text(s: SecondOrder, source: Source, where: str, notes: Sequence[str], ascii: bool = False,
                      steps: bool = False) -> str:
    """What ``matcalc hessian`` prints: H with its shape, H[V], f, ∇f, declarations, notes."""
    v = s.direction.name

    def pr(t: Expr) -> str:
        return to_text(t, ascii)

    assert s.first.gradient is not None
    lines = [f"H = {pr(s.hessian)}    [{second_order_shape_note(s, ascii)}]",
             f"H[{v}] = {pr(s.hvp)}    [{shape_str(s.hvp.shape, ascii)}, the Hessian applied to {v}, shaped like "
             f"{s.wrt.name}]",
             "",
             f"  f  = {pr(source.tree)}",
             f"  {'grad f' if ascii else '∇f'} = {pr(s.first.gradient)}    [with respect to {s.wrt.name}]",
             f"  where {where}"]
    lines.extend(f"  {ascii_words(n) if ascii else n}" for n in notes)
    if steps:
        lines += ["", "Derivation:", steps_text(s.steps, ascii, indent=" ")]
    return "\n".join(lines)


def second_order_latex(s: SecondOrder, source: Source, latex_where: str, notes: Sequence[str],
                       check: Any = None) -> str:
    """An ``aligned`` block: H with its shape, H[V], f, ∇f, the declarations, the notes and,
    given ``check``, the check's verdict."""
    v = latex_name(s.direction.name)
    assert s.first.gradient is not None
    rows = [rf"H &= {to_latex(s.hessian)} && \in \mathbb{{R}}^{{{latex_shape(s.hessian.shape)}}}"
            rf"\ \text{{({latex_text(second_order_name(s))}{'' if s.wrt2 else ', symmetric'})}}",
            rf"H[{v}] &= {to_latex(s.hvp)} && \text{{(the Hessian applied to ${v}$, shaped like "
            rf"${latex_name(s.wrt.name)}$)}}",
            rf"f &= {to_latex(source.tree)}",
            rf"\nabla f &= {to_latex(s.first.gradient)}"]
    return _block(rows, source, notes, check, latex_where)


def second_order_json(s: SecondOrder, source: Source, where: str, notes: Sequence[str],
                      check: Any = None) -> dict[str, Any]:
    """JSON-ready, kind ``hessian``."""
    taken = source.names() | {s.direction.name}
    assert s.first.gradient is not None
    out = {
        "version": SCHEMA_VERSION, "kind": "hessian", "expression": source.forms(), "wrt": s.wrt.name,
        "wrt2": s.wrt2.name if s.wrt2 else None, "where": where, "variables": source.variables(),
        "functions": source.function_list(), "gradient": forms(s.first.gradient, taken),
        "hessian": {**forms(s.hessian, taken), "note": second_order_shape_note(s)},
        "hvp": {**forms(s.hvp, taken), "direction": s.direction.name},
        "steps": steps_json(s.steps, "f", full=False), "notes": list(notes),
    }
    if check is not None:
        out["check"] = check if isinstance(check, dict) else check.to_dict()
    return out


# ======================================================================================
# Shared
# ======================================================================================


def _block(rows: list[str], source: Source, notes: Sequence[str], check: Any, where: str | None = None) -> str:
    """``rows`` with the declarations, the notes and the check's verdict, as an aligned block."""
    rows = [*rows, rf"& \text{{where }} {source.latex_where() if where is None else where}"]
    rows.extend(rf"& \text{{{latex_text(n)}}}" for n in notes)
    if check is not None:
        rows.append(rf"& \text{{{latex_text(str(check))}}}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def markdown(latex: str, check: Any = None, steps: str | None = None) -> str:
    """A result as a snippet for notes: its LaTeX block in ``$$ … $$`` (the check's verdict in
    words below it), and the derivation as a second block."""
    out = ["$$", latex, "$$"]
    if check is not None:
        out += ["", str(check)]
    if steps is not None:
        out += ["", "Derivation:", "", "$$", steps, "$$"]
    return "\n".join(out)


__all__ = ["Source", "condition_words", "first_order_text", "first_order_latex", "first_order_json",
           "second_order_text", "second_order_latex", "second_order_json", "steps_text", "steps_latex",
           "step_text", "step_latex", "step_line", "markdown", "latex_space", "latex_shape"]


def function_note(name: str, decl: Any, ascii: bool = False) -> str:
    """What an abstract function is and how its derivative is written."""
    if decl.kind == "elementwise":
        return f"{name}: abstract elementwise function ({name}{chr(39) if ascii else '′'} its derivative)"
    if decl.kind == "vector":
        out = f" with values in R^{decl.out}" if ascii else f" with values in ℝ^{decl.out}"
        return f"{name}: abstract vector function{out if decl.out else ''} (jac {name} its Jacobian)"
    return f"{name}: abstract scalar function ({'grad ' if ascii else '∇'}{name} its gradient)"
