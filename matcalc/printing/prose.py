"""Words with mathematics in them — rule names, notes, verdicts — as LaTeX.

matcalc's messages are written in Unicode (``d(Aᵀ) = (dA)ᵀ``, ``holds where X is
invertible``, ``m×n``).  LaTeX has no such characters: :func:`latex_text` writes a message
for ``\\text{…}``, each piece of mathematics in it as inline maths (``$^{\\top}$``), and
:func:`rule_latex` writes a rule name in maths mode, its words in ``\\text{…}`` and its
formula typeset (``\\mathrm{d}\\left(A^{\\top}\\right)``), as a textbook sets it.  Every
string either returns is rendered by KaTeX in the tests.
"""

from __future__ import annotations

import re

from .. import functions as F
from .. import greek

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹ⁱᵏⁿ⁺", "0123456789ikn+", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ᵢₖₘₙ", "0123456789ikmn", strict=True))

#: Unicode mathematics and its LaTeX (maths mode); the longest spelling is matched first
MATH: dict[str, str] = {
    "⁻ᵀ": r"^{-\top}", "⁻¹": r"^{-1}", "ᵀ": r"^{\top}", "⊤": r"^{\top}", "′′": "''", "′": "'",
    "⊙": r"\odot", "⊗": r"\otimes", "⊘": r"\oslash", "∘": r"\circ", "⇔": r"\Leftrightarrow",
    "⇒": r"\Rightarrow", "→": r"\to", "↦": r"\mapsto", "∂": r"\partial", "∇": r"\nabla", "‖": r"\|",
    "×": r"\times", "·": r"\cdot", "−": "-", "≤": r"\le", "≥": r"\ge", "≠": r"\ne", "≈": r"\approx",
    "∈": r"\in", "ℝ": r"\mathbb{R}", "𝟏": r"\mathbf{1}", "𝟎": r"\mathbf{0}", "⟨": r"\langle",
    "⟩": r"\rangle", "…": r"\ldots", "⋯": r"\cdots", "√": r"\surd", "∑": r"\sum", "ℓ": r"\ell",
    "½": r"\tfrac{1}{2}", "✓": r"\checkmark", "✗": r"\times", "±": r"\pm", "∞": r"\infty",
    **{k: f"^{{{v}}}" for k, v in _SUPERSCRIPTS.items()},
    **{k: f"_{{{v}}}" for k, v in _SUBSCRIPTS.items()},
    **greek.COMMANDS,
}
#: typography that text mode writes itself
TEXT: dict[str, str] = {
    "“": "``", "”": "''", "‘": "`", "’": "'", "–": "--", "—": "---", "\u00a0": "~", "\u2009": r"\,",
}
_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%",
            "#": r"\#", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}"}
_MATH_RE = re.compile("|".join(re.escape(k) for k in sorted(MATH, key=len, reverse=True)))


def latex_text(text: str) -> str:
    """``text`` for ``\\text{…}``: LaTeX's special characters escaped, each run of Unicode
    mathematics as inline maths (``m×n`` → ``m$\\times$n``), quotes and dashes as text
    mode writes them."""
    out: list[str] = []
    math: list[str] = []
    i = 0
    while i < len(text):
        m = _MATH_RE.match(text, i)
        if m:
            math.append(MATH[m.group(0)])
            i = m.end()
            continue
        sup = re.match(r"\^(\{[^{}]*\}|[A-Za-z0-9·]+)", text[i:]) if math else None
        if sup:  # ℝ^p: a superscript of the maths before it
            math.append("^{" + sup.group(1).strip("{}").replace("·", r" \cdot ") + "}")
            i += sup.end()
            continue
        if math:
            out.append("$" + " ".join(math) + "$")
            math = []
        ch = text[i]
        out.append(_ESCAPES.get(ch) or TEXT.get(ch) or ch)
        i += 1
    if math:
        out.append("$" + " ".join(math) + "$")
    return "".join(out)


# -- rule names, in maths mode ----------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+|" + _MATH_RE.pattern + r"|\s+|.", re.S)
_PROSE, _MATHS = 0, 1


def rule_latex(rule: str) -> str:
    """A rule name in maths mode: ``d(Aᵀ) = (dA)ᵀ`` → ``\\mathrm{d}(A^{\\top}) = (\\mathrm{d}A)^{\\top}``,
    ``product rule (⊙)`` → ``\\text{product rule (}\\odot\\text{)}``.  A word is maths when it
    is one letter (``X``, but not the article in ``a scalar``), a differential (``dX``,
    ``df``), or a function applied (``tr(…)``, ``vec⁻¹``, ``log det(X)``, ``vec X``);
    other words are prose."""
    tokens = _TOKEN.findall(rule)
    kinds: list[int | None] = [None] * len(tokens)  # None: spaces and punctuation, decided below

    def after(i: int) -> str:
        j = i + 1
        while j < len(tokens) and tokens[j].isspace():
            j += 1
        return tokens[j] if j < len(tokens) else ""

    for i, t in enumerate(tokens):
        if t.isspace() or not (t[0].isalnum() or t in MATH):
            continue
        if t in MATH or t.isdigit():
            kinds[i] = _MATHS
        elif t == "d" or _is_differential(t) or t == "DF":
            kinds[i] = _MATHS
        elif F.lookup(t) is not None:
            nxt = after(i)
            applied = i + 1 < len(tokens) and (tokens[i + 1] in ("(", "‖") or tokens[i + 1] in MATH)
            kinds[i] = _MATHS if applied or _is_operand(nxt) or F.lookup(nxt) is not None else _PROSE
        elif len(t) == 1:
            kinds[i] = _PROSE if t == "a" and _is_word(after(i)) else _MATHS
        else:
            kinds[i] = _PROSE
    # spaces and punctuation join the prose beside them; elsewhere they are maths
    for i, t in enumerate(tokens):
        if kinds[i] is None:
            left = next((kinds[j] for j in range(i - 1, -1, -1) if kinds[j] is not None), _PROSE)
            right = next((kinds[j] for j in range(i + 1, len(tokens)) if kinds[j] is not None), _PROSE)
            # a space beside prose is kept in it (\text{brings } \mathrm{d}X): maths drops spaces
            # punctuation after a word stays with it (\text{table: })
            kinds[i] = _PROSE if (t.isspace() and _PROSE in (left, right)) or left == _PROSE else _MATHS
    out: list[str] = []
    prose: list[str] = []
    for t, k in zip(tokens, kinds, strict=True):
        if k == _PROSE:
            prose.append(t)
            continue
        if prose:
            out.append(rf"\text{{{latex_text(''.join(prose))}}}")
            prose = []
        out.append(_maths(t))
    if prose:
        out.append(rf"\text{{{latex_text(''.join(prose))}}}")
    return " ".join(o for o in out if o.strip()).replace(" ^", "^").replace(" _", "_").replace(" '", "'")


def _is_differential(t: str) -> bool:
    return len(t) == 2 and t[0] == "d" and t[1].isalpha()


def _is_operand(t: str) -> bool:
    return len(t) == 1 and t.isalpha() or _is_differential(t)


def _is_word(t: str) -> bool:
    return len(t) > 1 and t.isalpha() and F.lookup(t) is None and not _is_differential(t)


def _maths(t: str) -> str:
    if t.isspace():
        return ""
    if t in MATH:
        return MATH[t]
    if t == "d":
        return r"\mathrm{d}"
    if t == "DF":
        return r"\mathsf{D}F"
    if _is_differential(t):
        return rf"\mathrm{{d}}{t[1]}"
    fn = F.lookup(t)
    if fn is not None:  # \sqrt takes its argument in braces: sqrt(X) in a rule is the name
        return rf"\operatorname{{{fn.name}}}" if fn.latex_braced else fn.latex
    return _ESCAPES.get(t, t)


__all__ = ["latex_text", "rule_latex", "MATH"]
