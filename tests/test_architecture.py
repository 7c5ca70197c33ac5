"""The package's layers, as docs/architecture.md draws them: every module imports only
modules of lower layers (or of its own layer that come before it), so there is no import
circle and no arrow back up — imports inside functions included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "matcalc"


def _layers() -> dict[str, int]:
    """Module → layer, from the table in docs/architecture.md: its columns start where the
    header's words do; ``syntax/`` stands for a package, ``printing/ (text, latex)`` for
    the modules named."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    lines = text.split("```")[1].strip("\n").splitlines()
    header = lines[0]
    at_modules, at_words = header.index("modules"), header.index("what they do")
    out: dict[str, int] = {}
    layer = None
    column = ""
    for line in lines[2:]:
        if line[:at_modules].strip():
            layer = int(line[:at_modules])
        column += " " + line[at_modules:at_words]
        if line[at_modules:at_words].rstrip().endswith(","):
            continue  # the list goes on in the next line
        for item in re.findall(r"[\w./]+/? ?(?:\([^)]*\))?", column):
            head = item.split(" (")[0].strip(", ")
            inner = re.search(r"\(([^)]*)\)", item)
            if head == "printing/" and inner:
                for sub in inner.group(1).split(","):
                    out[f"printing/{sub.strip()}.py"] = layer  # type: ignore[assignment]
            elif head:
                out[head] = layer  # type: ignore[assignment]
        column = ""
    return out


LAYERS = _layers()


def _layer(module: Path) -> int:
    rel = module.relative_to(PACKAGE).as_posix()
    if rel in LAYERS:
        return LAYERS[rel]
    if rel == "__init__.py" or rel == "__main__.py":
        return 99  # the package's face imports the API
    folder = rel.split("/")[0] + "/"
    assert folder in LAYERS, f"{rel} is in no layer of docs/architecture.md"
    return LAYERS[folder]


def _imports(module: Path) -> set[Path]:
    """The package's modules that ``module`` imports, anywhere in it."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    here = module.parent
    out: set[Path] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("matcalc."):
                        out.add(_resolve(PACKAGE, a.name.split(".")[1:]))
            continue
        if node.level == 0:
            if not (node.module or "").startswith("matcalc"):
                continue
            base, parts = PACKAGE, (node.module or "").split(".")[1:]
        else:
            base = here
            for _ in range(node.level - 1):
                base = base.parent
            parts = (node.module or "").split(".") if node.module else []
        target = _resolve(base, parts)
        if target.is_dir():  # from . import functions: each name may be a module
            for a in node.names:
                sub = _resolve(target, [a.name])
                out.add(sub if sub.exists() else target / "__init__.py")
        else:
            out.add(target)
    return {p for p in out if p.exists()}


def _resolve(base: Path, parts: list[str]) -> Path:
    path = base.joinpath(*parts) if parts else base
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    if (path / "__init__.py").exists() and parts:
        return path / "__init__.py" if not path.is_dir() else path
    return path


def test_every_module_imports_only_downwards():
    wrong = []
    for module in sorted(PACKAGE.rglob("*.py")):
        mine = _layer(module)
        for target in _imports(module):
            if target.is_dir():
                target = target / "__init__.py"
            if target.name == "__init__.py" and target.parent == PACKAGE:
                continue  # (the version string)
            theirs = _layer(target)
            if theirs > mine:
                wrong.append(f"{module.relative_to(PACKAGE)} (layer {mine}) imports "
                             f"{target.relative_to(PACKAGE)} (layer {theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = {m: {t if not t.is_dir() else t / "__init__.py" for t in _imports(m)} for m in PACKAGE.rglob("*.py")}
    state: dict[Path, int] = {}

    def visit(m: Path, path: list[Path]) -> None:
        state[m] = 1
        for t in graph.get(m, ()):
            if t == m or t.parent == PACKAGE and t.name == "__init__.py":
                continue
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t] if t in path else [m, t]
                raise AssertionError(" → ".join(str(p.relative_to(PACKAGE)) for p in cycle))
            if state.get(t) is None:
                visit(t, path + [t])
        state[m] = 2

    for m in graph:
        if state.get(m) is None:
            visit(m, [m])


def test_no_module_is_longer_than_900_lines():
    long = [f"{p.relative_to(PACKAGE)}: {n}" for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 900]
    assert not long, long
