"""Code generation: a self-contained Python module that computes f, its gradients and
(with ``hessian=True``) its Hessian, for NumPy, JAX or PyTorch.

The contract of the generated module (tools and tests rely on it):

- ``value_and_grad(**arrays)`` takes one keyword argument per variable of the expression,
  named as the variable (a name that is not a Python identifier, or is a keyword such as
  ``lambda``, gets a trailing underscore: ``lambda_``; the docstring lists the mapping), and
  returns ``(value, grads)``: value a float (a 0-d array for JAX and PyTorch), grads a dict
  from each WRT name to its gradient, shaped like the array passed (1-D in, 1-D out).
  Abstract functions are passed as callables under the names :func:`matcalc.evaluate`
  uses (``L=…, grad_L=…, hess_L=…, f=…, f_prime=…, f_prime2=…``).
- With ``hessian=True`` (one WRT): ``hessian(**arrays)``, the mn×mn Hessian
  ∂²f/∂vec X ∂(vec X)ᵀ, and ``hvp(v, **arrays)``, H[V] shaped like the variable.
- For JAX each of these checks its arguments and calls its body compiled by ``jax.jit``
  (abstract functions are static arguments); the precision is the user's choice
  (``jax_enable_x64``), as the module's docstring says.

What the code is: every value a 2-D array (a vector n×1), each shared subexpression
computed once (the trees are hash-consed DAGs; a part of a product computed elsewhere is
reused), a product evaluated from a vector at its end (A (B x)), products of three or more
matrices by ``multi_dot`` (ordered by cost for the actual sizes at run time), scalars on the
smallest array on the way (c (Aᵀ r), never (c Aᵀ) r), ``solve`` where an inverse is only
applied, ``diag(v) M`` as ``v * M`` (broadcast), 𝟏ᵀ M as a column sum, tr(P L) as
sum(P ⊙ Lᵀ), and stable forms: σ and softplus from ``logaddexp``, ``log(1 + exp(z))`` as
softplus, ``log(sum(exp(z)))`` as logsumexp, ‖x‖² as a sum of squares.  A matrix that is only
applied is never formed: in ``hvp`` to the direction, everywhere to a vector, a sum of
matrices is applied term by term ((A + Aᵀ) v = A v + Aᵀ v), diag(v) by broadcasting, A ⊗ B
and K by reshaping ((B ⊗ A) vec V = vec(A V Bᵀ)); Kronecker products, K and diag(v) are
built only in the Hessian matrix itself.

The module is written from the derivation values (:mod:`matcalc.derive`) by
:mod:`.writer`, for a target of :mod:`.targets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..derive import derive, derive_second
from ..errors import MatcalcError
from ..nodes import Apply, Expr, Grad, Jac, Var
from ..printing.shared import text_with_bindings
from ..printing.text import to_text
from ..shapes import dim_str, shape_str
from ..syntax import parse_tree
from ..version import __version__
from .targets import _HELPER_IMPORTS, TARGETS, Target, _target, py_name
from .writer import _Writer

# ----------------------------------------------------------------------------- what is generated


@dataclass(frozen=True)
class _HessianParts:
    wrt: str
    direction: str  #: the name of V in H[V]
    matrix: Expr
    matrix_text: str
    hvp: Expr
    hvp_text: str


@dataclass(frozen=True)
class _Derivation:
    """What the generated module computes, as trees and texts: f, its variables (in
    matcalc's order), each gradient and, with ``hessian=True``, the Hessian H and H[V].  This
    is all the module writer reads of matcalc's results (:func:`_derive` makes it)."""

    text: str  #: f as matcalc prints it
    tree: Expr
    variables: tuple[Var, ...]
    gradients: tuple[tuple[str, Expr, str], ...]  #: (WRT name, gradient tree, its text)
    hessian: _HessianParts | None = None


def _derive(expr: Any, wrts: list[str], where: Any, hessian: bool) -> _Derivation:
    """The derivation values of ``expr`` (a string, or a parsed expression with ``tree`` and
    ``shapes``) that the module is written from: the one place code generation takes them
    (:mod:`matcalc.derive`)."""
    if isinstance(expr, str):
        expr = parse_tree(expr, where)
    elif where is not None:
        raise MatcalcError("the expression is already parsed with its declarations: pass where= to parse()")
    tree = expr.tree
    taken = set(expr.shapes) | {n.name for n in tree.walk() if isinstance(n, (Apply, Grad, Jac))}
    if not tree.is_scalar:
        raise MatcalcError(f"code generation is for a scalar expression (a loss); {to_text(tree)} is "
                           f"{shape_str(tree.shape)}")
    if not wrts:
        raise MatcalcError("give at least one variable to differentiate with respect to")
    if len(set(wrts)) != len(wrts):
        raise MatcalcError(f"a variable is given twice: {', '.join(wrts)}")
    if hessian and len(wrts) != 1:
        raise MatcalcError("--hessian generates the Hessian with respect to one variable; give one WRT")
    variables = {n.name: n for n in tree.walk() if isinstance(n, Var)}
    ordered = tuple(variables[v] for v in expr.shapes)

    def var(name: str) -> Var:
        if name not in variables:
            raise MatcalcError(f"'{name}' is not a variable of {to_text(tree)} (the variables are "
                               f"{', '.join(expr.shapes)})")
        return variables[name]

    gradients = []
    for w in wrts:
        d = derive(tree, var(w))
        assert d.gradient is not None
        gradients.append((w, d.gradient, text_with_bindings(d.gradient, taken)))
    parts = None
    if hessian:
        s = derive_second(derive(tree, var(wrts[0])), None, frozenset(taken))
        parts = _HessianParts(wrts[0], s.direction.name, s.hessian, text_with_bindings(s.hessian, taken),
                              s.hvp, text_with_bindings(s.hvp, taken | {s.direction.name}))
    return _Derivation(text_with_bindings(tree, taken), tree, ordered, tuple(gradients), parts)


# ----------------------------------------------------------------------------- the module


def codegen(expr: Any, wrt: str | list[str] | tuple[str, ...], where: Any = None, target: str = "numpy",
            hessian: bool = False) -> str:
    """The source of a Python module for ``target`` (numpy, jax or torch) that computes the
    scalar ``expr`` and its gradients with respect to ``wrt`` (a name or a list of names),
    and with ``hessian=True`` (one name) its Hessian and Hessian-vector product.  See the
    module docstring for the contract.

    >>> src = codegen("x' A x", "x")
    >>> namespace = {}
    >>> exec(src, namespace)
    >>> import numpy as np
    >>> value, grads = namespace["value_and_grad"](x=np.array([1.0, 2.0]), A=np.eye(2))
    >>> value, grads["x"].tolist()
    (5.0, [2.0, 4.0])
    """
    t = _target(target)
    d = _derive(expr, [wrt] if isinstance(wrt, str) else list(wrt), where, hessian)
    variables = [v.name for v in d.variables]  # names in the order matcalc lists them
    names = {v: py_name(v) for v in variables}
    if len(set(names.values())) != len(names):
        raise MatcalcError("two variables map to the same Python name: " + ", ".join(f"{k} → {v}" for k, v in names.items()))
    # the sizes, from the variables' shapes
    sizes: dict[str, str] = {}
    for v in d.variables:
        for axis, dim in enumerate(v.shape):
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = f"{names[v.name]}.shape[{axis}]"
    functions: set[str] = set()
    sections: list[str] = []

    # value_and_grad
    w = _Writer(t, names, dict(sizes), functions)
    lines = w.write([("value", d.tree)] + [(f"grad_{py_name(g)}", tree) for g, tree, _ in d.gradients])
    value_out = {"numpy": "float(np.reshape(value, ()))", "jax": "jnp.reshape(value, ())",
                 "torch": "torch.as_tensor(value).reshape(())"}[t.name]
    grads = ", ".join(f"{g!r}: grad_{py_name(g)}.reshape(shape_{names[g]})" for g, _, _ in d.gradients)
    sections.append(_function("value_and_grad", [], names, variables, functions, lines,
                              f"return {value_out}, {{{grads}}}",
                              "f and its gradients: (value, {name: gradient shaped like the argument}).",
                              [g for g, _, _ in d.gradients], t))

    h = d.hessian
    if h is not None:
        x = h.wrt
        lines2 = _Writer(t, names, dict(sizes), functions).write([("H", h.matrix)])
        sections.append(_function("hessian", [], names, variables, functions, lines2, "return H",
                                  f"H = ∂²f/∂vec {x} ∂(vec {x})ᵀ, the Hessian (vec stacks columns).", [], t))
        direction = py_name(h.direction)
        w3 = _Writer(t, {**names, h.direction: direction}, dict(sizes), functions, direction=h.direction)
        lines3 = [f"{direction} = _col(v)", *w3.write([("HV", h.hvp)])]
        sections.append(_function("hvp", ["v"], names, variables, functions, lines3,
                                  f"return HV.reshape(shape_{names[x]})",
                                  f"H[{h.direction}]: the Hessian applied to v (shaped like {x}), as dG with "
                                  f"d{x} = v; matrices only applied to v are never formed.", [x], t))

    helpers = dict(t.helpers)
    # the helpers the functions call, and the helpers those call (from the final text)
    text = "\n".join(sections)
    order: list[str] = []
    changed = True
    while changed:
        changed = False
        for k in helpers:
            if k not in order and re.search(rf"\b{k}\(", text + "\n".join(helpers[h] for h in order)):
                order.append(k)
                changed = True
    order = [k for k in helpers if k in order]
    doc = _docstring(d, names, variables, functions, target)
    extra = sorted({imp for (tn, helper), imp in _HELPER_IMPORTS.items() if tn == t.name and helper in order})
    out = [f'"""{doc}"""', "", "\n".join([t.imports, *extra]), "", ""]
    out += [helpers[k] + "\n\n" for k in order]
    out += [s + "\n\n" for s in sections]
    return "\n".join(out).rstrip() + "\n"


def _function(name: str, extra: list[str], names: dict[str, str], variables: list[str], functions: set[str],
              lines: list[str], ret: str, doc: str, kept: list[str], t: Target) -> str:
    """A function of the module: keyword arguments, each variable made 2-D, the shapes of
    the ``kept`` variables remembered (a result is shaped like its argument).  For JAX the
    function checks its arguments and calls its body compiled by ``jax.jit``, with the
    functions of f as static arguments."""
    params = extra + ["*"] + [names[v] for v in variables] + [f"{f}=None" for f in sorted(functions)] + ["**others"]
    head = f"def {name}({', '.join(params)}):"
    used = [f for f in sorted(functions) if re.search(rf"\b{f}\(", "\n".join(lines))]
    shape = {"numpy": "np.shape({0})", "jax": "jnp.shape({0})", "torch": "tuple(torch.as_tensor({0}).shape)"}[t.name]
    setup = [f"shape_{names[v]} = {shape.format(names[v])}" for v in kept]
    setup += [f"{names[v]} = _col({names[v]})" for v in variables]
    if t.name != "jax":
        body = [f'"""{doc}"""', "_only_functions(others)", *setup, *[f"{f} = _need({f!r}, {f})" for f in used],
                *lines, ret]
        return head + "\n" + "\n".join("    " + ln for ln in body)
    arrays = extra + [names[v] for v in variables]
    call = ", ".join(arrays + [f"{f}=_need({f!r}, {f})" for f in used])
    public = [f'"""{doc} Compiled by jax.jit (see the module\'s docstring)."""', "_only_functions(others)",
              f"return _compiled_{name}({call})"]
    traced = [f'"""The body of {name}, traced and compiled by jax.jit."""', *setup, *lines, ret]
    statics = f", static_argnames={tuple(used)!r}" if used else ""
    return (head + "\n" + "\n".join("    " + ln for ln in public) + "\n\n\n"
            + f"def _{name}({', '.join(arrays + used)}):\n" + "\n".join("    " + ln for ln in traced) + "\n\n\n"
            + f"_compiled_{name} = jax.jit(_{name}{statics})")


def _docstring(d: _Derivation, names: dict[str, str], variables: list[str], functions: set[str], target: str) -> str:

    h = d.hessian
    lines = [f"f = {d.text}, its gradients{' and Hessian' if h else ''}: generated by matcalc {__version__} "
             f"for {target}.", ""]

    def shape(v: Var) -> str:
        if v.is_scalar:
            return "scalar"
        return dim_str(v.shape[0]) if v.shape[1] == 1 else shape_str(v.shape) + (" symmetric" if v.symmetric else "")

    lines.append("Arguments (keyword, one per variable): " + ", ".join(
        f"{names[v.name]}: {shape(v)}" for v in d.variables))
    renamed = [f"{v} → {names[v]}" for v in variables if names[v] != v]
    if renamed:
        lines.append("Names: " + ", ".join(renamed))
    if functions:
        lines.append("Functions (keyword, Python callables): " + ", ".join(sorted(functions)))
    lines.append("")
    for wrt, _, text in d.gradients:
        lines.append(f"∂f/∂{wrt} = {text}")
    if h is not None:
        lines.append(f"H = {h.matrix_text}")
        lines.append(f"H[{h.direction}] = {h.hvp_text}")
    lines += ["", "value_and_grad(**arrays) -> (value, {name: gradient shaped like the argument})"]
    if h is not None:
        lines += ["hessian(**arrays) -> H;  hvp(v, **arrays) -> H[v], shaped like the variable"]
    if target == "jax":
        lines += ["", "Each function is compiled by jax.jit on its first call, and again for arguments of new shapes "
                  "or dtypes.", "JAX computes in float32 unless 64-bit floats are enabled, which this module leaves "
                  "to you: jax.config.update(\"jax_enable_x64\", True) before the first call."]
        if functions:
            lines += ["The functions are static arguments of the compiled code: write them with jax.numpy, and pass "
                      "the same function objects from call to call (a new lambda compiles again)."]
    return "\n".join(lines).replace('"""', "'''").replace("\\", "\\\\")


__all__ = ["codegen", "py_name", "TARGETS"]

