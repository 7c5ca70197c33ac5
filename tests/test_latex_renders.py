"""Every LaTeX string matcalc emits renders in a real renderer: KaTeX (the copy shipped
inside the package, which the web page serves), run by Node.js, with ``strict: "error"``
so that what LaTeX itself would refuse — raw Unicode, unknown commands — fails here.

The strings: each identity of the test table (the derivative block with its notes and a
check line, the derivation, the JSON's LaTeX fields, both layouts), every function row's
rule name, a long result with named subexpressions, and the command line's LaTeX and
Markdown output (the maths of each ``$$ … $$`` block and ``$ … $`` span)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import matcalc
from matcalc import functions as F
from matcalc.cli import main
from matcalc.printing.prose import latex_text, rule_latex
from matcalc.rules.differential import RULES

from identities import ROWS

KATEX = Path(matcalc.__file__).parent / "vendor" / "katex" / "katex.min.js"
SCRIPT = Path(__file__).parent / "js" / "katex_render.js"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(
    NODE is None and not os.environ.get("CI"),
    reason="Node.js is not installed (CI installs it: there this test never skips)",
)

CHECK_LINES = [
    "✓ checked with SymPy at m=3, n=4 (exact, 12 entries, 0.05 s); finite differences agree at m=4, n=5",
    "✗ not right: the claim differs at entry (1, 2): 3/4 ≠ −1/2",
    "unchecked: the SymPy check ran out of time after 10 s (SymPy was still computing, at m=3)",
    "not checked: --no-check was given, so the answer above has not been verified",
]


def render(strings: list[str]) -> list[str | None]:
    assert NODE is not None, "Node.js is needed to render LaTeX with KaTeX (apt-get install nodejs)"
    assert KATEX.is_file(), f"KaTeX is not in the package: {KATEX}"
    done = subprocess.run([NODE, str(SCRIPT), str(KATEX)], input=json.dumps(strings), capture_output=True,
                          text=True, encoding="utf-8", timeout=300, check=True)
    return json.loads(done.stdout)


def assert_all_render(strings: list[str]) -> None:
    strings = [s for s in dict.fromkeys(strings) if s.strip()]
    errors = [(s, err) for s, err in zip(strings, render(strings), strict=True) if err is not None]
    assert not errors, "\n\n".join(f"{err}\n  in: {s[:400]}" for s, err in errors[:10])
    assert len(strings) > 0


def maths_of_markdown(text: str) -> list[str]:
    """The maths of each $$ … $$ block and each $ … $ span of a Markdown text."""
    blocks = re.findall(r"\$\$\n?(.*?)\n?\$\$", text, flags=re.S)
    rest = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    spans = re.findall(r"(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", rest)
    return blocks + spans


def latex_fields(data: object) -> list[str]:
    """Every "latex" value in a JSON result, however deep."""
    if isinstance(data, dict):
        return [v for k, v in data.items() if k == "latex" and isinstance(v, str)] + \
            [s for k, v in data.items() if k != "latex" for s in latex_fields(v)]
    if isinstance(data, list):
        return [s for v in data for s in latex_fields(v)]
    return []


def test_the_identity_table_renders():
    strings = []
    for row in ROWS:
        for layout in ("denominator", "numerator"):
            r = matcalc.diff(row.expr, row.wrt, row.where, layout=layout)
            strings.append(r.latex(check=CHECK_LINES[0]))
            strings.append(r.steps.latex())
            strings += latex_fields(r.to_dict())
        strings.append(r.expression.latex())
        strings.append(r.expression._repr_latex_().strip("$"))
        strings.append(r.steps._repr_latex_().strip("$"))
    assert_all_render(strings)


def test_rule_names_notes_and_verdicts_render():
    rules = {f.rule for f in vars(F).values() if isinstance(f, F.Function) and f.rule}
    rules |= {r.name for r in RULES.values() if r.name}
    for text in ("x' A x", "tr(X' X)", "A X B", "L(W x + b)", "sum(log(σ(X w)))", "S x", "x"):
        for wrt in ("x", "X", "W"):
            try:
                r = matcalc.diff(text, wrt, "S: n×n symmetric" if "S" in text else None)
            except matcalc.MatcalcError:
                continue
            rules |= {s.rule for s in r.steps if s.rule}
    strings = [rule_latex(r) for r in sorted(rules)]
    strings += [rf"\text{{{latex_text(line)}}}" for line in CHECK_LINES]
    # notes of many kinds: invertibility, kinks, abstract functions, sizes used as numbers, readings
    notes: list[str] = []
    for text, wrt, where in [("log(det(X))", "X", None), ("sum(abs(x))", "x", None), ("L(x)", "x", None),
                             ("‖X w − y‖² / m", "w", None), ("n logdet(Σ)", "Σ", None),
                             ("x' inv(A) x", "x", None), ("relu(W x)", "W", None), ("f(x)", "x", "f: elementwise")]:
        r = matcalc.diff(text, wrt, where)
        notes += r.notes
        strings += [rf"\text{{{latex_text(n)}}}" for n in r.notes]
        strings.append(r.latex(check=CHECK_LINES[2]))
    assert len(notes) >= 6
    assert_all_render(strings)


def test_a_long_result_renders_with_its_named_subexpressions():
    net = "L(tanh(W8 tanh(W7 tanh(W6 tanh(W5 tanh(W4 tanh(W3 tanh(W2 tanh(W1 x)))))))))"
    r = matcalc.diff(net, "W1")
    latex = r.latex(check=CHECK_LINES[3])
    assert "z_{1}" in latex
    assert_all_render([latex, r.steps.latex(), r.gradient.latex(), *latex_fields(r.to_dict())])


def test_hessians_render():
    strings = []
    for text, wrt, wrt2 in (("x' A x", "x", None), ("tr(X' A X B)", "X", None), ("logdet(X)", "X", None),
                            ("sum(log(1 + exp(X w)))", "w", None), ("sum(log(1 + exp(W x + b)))", "W", "b"),
                            ("L(W x + b)", "W", None), ("L(σ(W x))", "W", None)):
        h = matcalc.hessian(text, wrt, wrt2)
        strings += [h.latex(check=CHECK_LINES[0]), h.steps.latex(), *latex_fields(h.to_dict())]
    assert_all_render(strings)


def test_the_command_line_latex_and_markdown_render(capsys, tmp_path):
    strings = []
    for argv in (["diff", "x' A x", "x", "--format", "latex", "--steps"],
                 ["diff", "A X B", "X", "--format", "latex", "--steps", "--layout", "numerator"],
                 ["diff", "L(σ(W x + b))", "W", "--format", "latex", "--no-check"],
                 ["parse", "tr(Σ⁻¹ (x − μ) (x − μ)ᵀ)", "--format", "latex"]):
        main(argv)
        out = capsys.readouterr().out
        assert "\\begin{aligned}" in out or argv[0] == "parse"
        strings += [block for block in out.split("\n\n") if block.strip()]
    main(["diff", "sum(log(1 + exp(X w)))", "w", "--format", "markdown", "--steps"])
    markdown = capsys.readouterr().out
    assert markdown.count("$$") == 4
    strings += maths_of_markdown(markdown)
    main(["check", "x' A x", "x", "2 A x", "--format", "markdown"])
    strings += maths_of_markdown(capsys.readouterr().out)
    table = tmp_path / "notes.md"
    table.write_text("| $f(x)$ | $\\frac{\\partial f}{\\partial x}$ |\n|---|---|\n| $x^T A x$ | $2 A x$ |\n"
                     "| $a^T x$ | $a$ |\n", encoding="utf-8")
    main(["check", "--table", str(table), "--format", "markdown"])
    written = capsys.readouterr().out
    assert "| check |" in written and "✓ verified" in written and "✗ wrong: matcalc gives $" in written
    strings += maths_of_markdown(written)
    assert len(strings) > 10
    assert_all_render(strings)


def test_the_renderer_refuses_what_latex_refuses():
    """The check can fail: raw Unicode in text and an unknown command are errors."""
    errors = render([r"\text{d(Aᵀ) = (dA)ᵀ}", r"\frob{X}", r"x^{\top}"])
    assert errors[0] is not None and errors[1] is not None and errors[2] is None
