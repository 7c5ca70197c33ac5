"""The shape of matcalc.syntax: the grammar names the tree (each alias is one method of the
tree builder, and each rule method is an alias), and the package's modules import only
downwards, at the top of the module."""

from __future__ import annotations

import ast
from pathlib import Path

import matcalc.syntax
from matcalc.syntax.builder import _RULES
from matcalc.syntax.grammar import parser

PACKAGE = Path(matcalc.syntax.__file__).parent

#: trees that matcalc.syntax.rewrite makes (functions written without parentheses)
REWRITTEN = {"joined_call", "bars_call"}


def test_every_grammar_alias_is_one_builder_method():
    rules = parser().rules
    trees = {str(r.alias) for r in rules if r.alias}
    trees |= {r.origin.name for r in rules if not r.alias and not r.options.expand1}
    trees = {t for t in trees if not t.startswith("_")}  # Lark's own helper rules, inlined
    assert trees | REWRITTEN == set(_RULES)


def _imports(path: Path) -> tuple[set[str], list[int]]:
    """The modules of the package that ``path`` imports, and the lines of imports made
    anywhere but at the top of the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner = [n.lineno for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and n.col_offset]
    local = {n.module.split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    return local, inner


def test_the_package_imports_only_downwards():
    graph = {}
    for path in PACKAGE.glob("*.py"):
        local, inner = _imports(path)
        assert not inner, f"{path.name}: imports inside a function or block at lines {inner}"
        graph[path.stem] = local
    done: list[str] = []  # a topological order exists if and only if there is no circle
    while len(done) < len(graph):
        ready = [m for m in graph if m not in done and graph[m] <= set(done)]
        assert ready, f"an import circle among {sorted(set(graph) - set(done))}"
        done.extend(sorted(ready))


def test_no_module_of_the_package_is_long():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path.name
