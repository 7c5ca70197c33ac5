"""Identity tables in Markdown, as lecture notes write them, checked row by row.

A table is found by its header: the second column names the derivative,
``$\\frac{\\partial f}{\\partial \\mathbf{x}}$`` (a gradient or, for a bold ``\\mathbf{f}``, a
Jacobian) with respect to the variable in the denominator.  Cells are LaTeX-ish:
``$\\mathbf{x}^T A \\mathbf{x}$``, ``$(A + A^T)\\mathbf{x}$``, ``$\\text{tr}(ABA^T)$``,
``$\\log \\det(A)$``, ``$A^{-T} = (A^{-1})^T$`` (each side of ``=`` is checked).  A note in
the expression cell such as "(symmetric $A$)" declares A symmetric; "(elementwise)" is
ignored.  In LaTeX, letters written side by side are a product: ``AB`` is A times B.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import MatcalcError
from .verify import Verdict, check

_WORDS = {  # LaTeX commands → matcalc
    r"\log\det": " logdet ", r"\log \det": " logdet ", r"\det": " det ", r"\log": " log ",
    r"\exp": " exp ", r"\sin": " sin ", r"\cos": " cos ", r"\tanh": " tanh ", r"\sigma": " σ ",
    r"\lambda": " lambda ", r"\alpha": " alpha ", r"\beta": " beta ", r"\mu": " mu ",
    r"\odot": " ⊙ ", r"\circ": " ⊙ ", r"\otimes": " ⊗ ", r"\cdot": " * ", r"\times": " * ",
    r"\top": "T", r"\left": "", r"\right": "", r"\,": " ", r"\;": " ", r"\!": "", r"\quad": " ",
    r"\nabla": " ∇", r"\operatorname": "", r"\mathrm": "", r"\text": "", r"\mathbf": "", r"\boldsymbol": "",
    r"\bm": "", r"\mathit": "",
}
_FUNCTION_NAMES = {"tr", "trace", "diag", "det", "logdet", "log", "exp", "sin", "cos", "tanh", "sigmoid", "relu",
                   "softmax", "softplus", "sqrt", "abs", "vec", "sum", "norm", "inv", "lambda", "alpha", "beta",
                   "mu", "kron"}


def latex_to_matcalc(cell: str) -> str:
    """``$(A + A^T)\\mathbf{x}$`` → ``(A + A') x``."""
    maths = re.findall(r"\$([^$]*)\$", cell)
    s = " ".join(maths) if maths else cell.strip()
    s = s.replace("’", "′").replace("‘", "′")
    s = re.sub(r"\\(?:text|mathrm|operatorname|mathbf|boldsymbol|bm|mathit)\s*\{([^{}]*)\}", r" \1 ", s)
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    for k in sorted(_WORDS, key=len, reverse=True):
        s = s.replace(k, _WORDS[k])
    s = re.sub(r"\^\{?\s*-\s*T\s*\}?", "^-T", s)
    s = re.sub(r"\^\{\s*T\s*\}|\^T\b|\^\s*T(?![A-Za-z])", "'", s)
    s = s.replace("{", "(").replace("}", ")")
    s = re.sub(r"\^\((-?\d+)\)", r"^\1", s)
    # letters side by side are a product in LaTeX: AB is A times B (names of functions stay)
    def split_run(m: re.Match[str]) -> str:
        word = m.group(0)
        if word in _FUNCTION_NAMES or len(word) == 1:
            return f" {word} "
        return " " + " ".join(word) + " "

    s = re.sub(r"[A-Za-z]+", split_run, s)
    # a function name must touch its parenthesis to be a call
    s = re.sub(r"\b(" + "|".join(sorted(_FUNCTION_NAMES, key=len, reverse=True)) + r")\s+\(", r"\1(", s)
    s = re.sub(r"(σ|∇)\s+", r"\1", s)
    s = re.sub(r"σ′?\s*\(", lambda m: m.group(0).replace(" ", ""), s)
    return re.sub(r"\s+", " ", s).strip()


@dataclass
class RowResult:
    line: int
    expression: str
    claim: str
    wrt: str
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and all(v.correct for v in self.verdicts)

    def text(self, ascii: bool = False) -> str:
        if self.verdicts:
            claims = " = ".join(v.claim.text(ascii) for v in self.verdicts)
            head = f"line {self.line}: d/d{self.wrt} [{self.verdicts[0].expression.text(ascii)}] = {claims}"
        else:
            head = f"line {self.line}: d/d{self.wrt} [{self.expression}] = {self.claim}"
        if self.error:
            return f"{head}\n  ? could not check: {self.error}"
        body = "\n".join(v.text(ascii) for v in self.verdicts)
        return f"{head}\n" + "\n".join(f"  {ln}" for ln in body.splitlines())


def _wrt_of(header: str) -> tuple[str, bool] | None:
    """The variable and whether it is a Jacobian, from a header like \\frac{\\partial f}{\\partial A}."""
    m = re.search(r"\\partial\s*(\\mathbf\{\s*\w+\s*\}|\w+)\s*\}\s*\{\s*\\partial\s*(\\mathbf\{\s*(\w+)\s*\}|(\w+))", header)
    if not m:
        return None
    wrt = m.group(3) or m.group(4)
    return wrt, "mathbf" in m.group(1)


def check_table(text: str, layout: str = "denominator", where: str | None = None, timeout: float = 10.0) -> list[RowResult]:
    """Check every row of every derivative table in a Markdown text."""
    results: list[RowResult] = []
    lines = text.splitlines()
    current: tuple[str, bool] | None = None
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line.startswith("|"):
            current = None if not line else current
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 2:
            continue
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
            continue
        found = _wrt_of(cells[1])
        if found and "partial" in cells[1] and not re.search(r"[=]", cells[0]) and "\\partial" in cells[1]:
            if not any(ch.isdigit() for ch in cells[1]) and _looks_like_header(lines, no):
                current = found
                continue
        if current is None:
            continue
        results.append(_check_row(no, cells[0], cells[1], current[0], layout, where, timeout))
    return results


def _looks_like_header(lines: list[str], no: int) -> bool:
    return no < len(lines) and re.fullmatch(r"\|?\s*:?-{3,}.*", lines[no].strip()) is not None


def _check_row(no: int, expr_cell: str, claim_cell: str, wrt: str, layout: str, where: str | None,
               timeout: float) -> RowResult:
    notes = re.findall(r"\(([^()$]*(?:\$[^$]*\$[^()$]*)*)\)\s*$", expr_cell)
    decls = [where] if where else []
    expr_cell_clean = expr_cell
    for note in notes:
        if re.search(r"symmetric", note):
            for name in re.findall(r"\$\s*([A-Za-z])\s*\$", note):
                decls.append(f"{name}: symmetric")
        if re.search(r"[a-z]{4,}", note.replace("$", "")):
            expr_cell_clean = expr_cell_clean.replace(f"({note})", "")
    expr = latex_to_matcalc(expr_cell_clean)
    claims = [latex_to_matcalc(f"${part}$") for part in " ".join(re.findall(r"\$([^$]*)\$", claim_cell)).split("=")]
    row = RowResult(no, expr, " = ".join(claims), wrt)
    declared = ", ".join(d for d in decls if d) or None
    try:
        for claim in claims:
            row.verdicts.append(check(expr, wrt, claim, declared, layout=layout, timeout=timeout))
    except MatcalcError as err:
        row.error = err.message
    return row
