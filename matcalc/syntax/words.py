"""The words the language gives a meaning of its own: constants (``I``, ``ones``), names
that build a node (``kron``), letters that name sizes or coefficients, and when a name
written without parentheses is a function of the table (``log`` in ``log|X|``)."""

from __future__ import annotations

import re

from .. import functions as F
from ..declare import GREEK_NAMES, Declarations, default_kind
from ..nodes import Kron

#: letters that name sizes in notes and textbooks: an undeclared one used only as a number
#: (``/ m``) is a size of the expression (declared sizes are sizes whatever their name)
SIZE_LETTERS = frozenset("mnpqkdNMKTD")

#: names that build a node of their own rather than a call of a table row
NODE_CALLS = {"kron": Kron}

#: c 𝟏 and c 𝟏𝟏ᵀ of the size the expression needs, as MatrixCalculus.org writes them:
#: vector(c), matrix(c)
FILLED = {"vector": "vector", "matrix": "matrix"}

#: names of constants, with the leaf kind they resolve to
CONSTANTS = {"I": "identity", "eye": "identity", "ones": "ones", "zeros": "zeros"}

#: a constant with its size: I_n, I_{m·n}, ones_3
SIZED = re.compile(r"(I|ones)_\{?([A-Za-z0-9·*]+)\}?")

#: words that are one name although made only of letters: Greek letters spelt out
#: (``lambda``, ``Sigma``), and the usual abbreviation of epsilon
GREEK_WORDS = frozenset(GREEK_NAMES | {"eps"})

#: Greek letters that name small constants in numerics: scalars even when added to a vector (log(x + ε))
SMALL_CONSTANTS = frozenset({"ε", "ϵ", "δ", "eps", "epsilon", "varepsilon", "delta"})


def coefficient_letter(name: str) -> bool:
    """a–g: scalars in MatrixCalculus.org's convention, and the usual coefficient letters."""
    return name[0] in "abcdefg"


def may_be_variable(name: str) -> bool:
    """A single Greek letter that names a function (σ) is also a letter for a variable."""
    return len(name) == 1 and default_kind(name) == "scalar"


def function_word(name: str, decls: Declarations) -> F.Function | None:
    """The table row of a name written as a function, not called: ``log`` in ``log|X|``."""
    if name in decls.variables or name in decls.functions or may_be_variable(name):
        return None
    return F.lookup(name)


def joined_row(f: F.Function, g: F.Function) -> F.Function | None:
    """The row that ``f g`` written without parentheses names: log det → logdet."""
    return F.lookup(f.name + g.name)
