"""matcalc: symbolic matrix-differential calculus.

>>> import matcalc
>>> print(matcalc.diff("L(W x + b)", "W").gradient)
∇L(W x + b) xᵀ

The public API: :func:`parse`, :func:`diff`, :func:`check`, :func:`hessian`, :func:`codegen`, and
the errors they raise.  SymPy is only imported by checks and conversions, NumPy by
evaluation, and code generation (:mod:`matcalc.code`) when it is first used.
"""

from typing import Any

from .api import LAYOUTS, Derivative, Expression, Hessian, Step, check, diff, hessian, parse
from .errors import (
    DeclarationError,
    DiffError,
    EvaluationError,
    MatcalcError,
    ParseError,
    ShapeError,
    TimeLimitError,
)
from .version import __version__ as __version__

__all__ = [
    "parse", "diff", "check", "hessian", "codegen", "Expression", "Derivative", "Hessian", "Step", "LAYOUTS",
    "MatcalcError", "ParseError", "ShapeError", "DeclarationError", "DiffError", "EvaluationError", "TimeLimitError",
]


def __getattr__(name: str) -> Any:
    """``matcalc.codegen``, imported when first asked for (PEP 562): ``import matcalc`` stays light."""
    if name == "codegen":
        from .code import codegen

        return codegen
    raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
