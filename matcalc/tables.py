"""Identity tables in Markdown, as lecture notes write them, checked row by row.

A table is found by its header, the row above the ``|---|---|`` line: its second cell
names the derivative and the variable, as ``$\\frac{\\partial f}{\\partial \\mathbf{x}}$``,
``$\\frac{\\partial f}{\\partial \\boldsymbol{\\Sigma}}$``, ``$\\partial f / \\partial X$``,
``$\\nabla_{\\mathbf{w}} f$`` or ``$\\nabla_{\\mathbf{x}} f(\\mathbf{x})$``.  Each row below
gives an expression and its derivative (``$A^{-T} = (A^{-1})^T$``: each side of ``=`` is
checked).  Notes in parentheses at the end of either cell are read: a plain one declares —
"(symmetric $A$)", "($A$ is symmetric)", "(for symmetric $A$, $B$)", "($A = A^T$)" — and
every other note ("A not symmetric", "skew-symmetric $A$", "if $A = A^T$", a name that is
not in the row) is shown as a note not used.  Each row says what its notes declared, how
it read each ``\\cdot`` between vectors, what the reading assumed, and the shapes it
inferred when a variable is not of the kind its letter suggests.

Cells are read as LaTeX, strictly, by :mod:`matcalc.latex_reader` (letters side by side
are a product, ``\\cdot`` between bold vectors a dot product, every function learnt from
the function table, ``\\|x\\|_1``, ``|X|``, ``\\langle A, X\\rangle`` …).  Anything the
reader does not understand — an unknown command or function, a subscript it cannot name —
makes the cell *unreadable*, reported with its line; it is never skipped and never read as
a different expression.  So is a table that looks like a derivative table but whose header
the reader cannot read.

The file itself is read with a bound (:data:`matcalc.limits.MAX_TABLE_BYTES`), as UTF-8
(a byte-order mark is skipped, CRLF line ends work); anything else is a clean error that
names the file and the byte offset.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import api, limits
from .api import check
from .checking.verdict import Verdict
from .declare import default_kind, parse_where
from .errors import EXIT_CODES, DiffError, MatcalcError, TimeLimitError
from .latex_reader import NAME, Cell, CellError, latex_sides, latex_to_matcalc, maths_of, read_cell
from .schema import SCHEMA_VERSION

#: the reader of one cell is matcalc.latex_reader; its API is also this module's
__all__ = ["Cell", "CellError", "RowResult", "TableError", "check_table", "decode_table", "exit_code",
           "latex_sides", "latex_to_matcalc", "read_cell", "read_table_file", "split_row", "summary", "wrt_of"]


class TableError(MatcalcError):
    """A table file that cannot be read at all."""

    kind = "table error"


# ======================================================================================
# Reading the file
# ======================================================================================


def read_table_file(path: str) -> str:
    """The text of a Markdown file (``-``: standard input): at most ``MAX_TABLE_BYTES`` bytes of UTF-8.

    A byte-order mark is dropped; NUL bytes (a binary file) or bytes that are not UTF-8
    are a :class:`TableError` naming the file and the offset of the first bad byte.
    """
    if path == "-":  # standard input, as for an expression
        try:
            return decode_table(sys.stdin.buffer.read(limits.MAX_TABLE_BYTES + 1), "standard input")
        except (OSError, ValueError) as exc:
            raise TableError(f"cannot read the table from standard input: {exc}") from None
    try:
        with open(path, "rb") as f:
            data = f.read(limits.MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_table(data, path)


def decode_table(data: bytes, name: str = "the table") -> str:
    """``data`` as text, or a :class:`TableError` (see :func:`read_table_file`)."""
    if len(data) > limits.MAX_TABLE_BYTES:
        raise TableError(f"{name} is larger than {limits.MAX_TABLE_BYTES:,} bytes, the most matcalc reads "
                         "from a table file; split it into smaller files")
    nul = data.find(b"\0")
    if nul >= 0:
        raise TableError(f"{name} is not a text file: a NUL byte at byte offset {nul}")
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise TableError(f"{name} is not UTF-8 text: the byte 0x{data[offset]:02x} at byte offset {offset} "
                         f"cannot be read ({exc.reason}); save the file as UTF-8") from None


# ======================================================================================
# Headers
# ======================================================================================

_BRACED = r"\{((?:[^{}]|\{[^{}]*\})*)\}"
_VARIABLE = r"(\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-zα-ωΑ-Ω](?:_\{?\w+\}?)?)"
_HEADERS = (
    re.compile(r"\\[dt]?frac\s*\{\s*(?:\\partial|∂|d)(?:(?:[^{}]|\{[^{}]*\})*)\}\s*"
               r"\{\s*(?:\\partial|∂|d)\s*((?:[^{}]|\{[^{}]*\})*)\}"),
    re.compile(r"(?:\\partial|∂)\s*[^/]*/\s*(?:\\partial|∂)\s*" + _VARIABLE),
    re.compile(r"(?:\\nabla|∇)\s*_\s*(?:" + _BRACED + "|" + _VARIABLE + ")"),
)
_DERIVATIVE_WORDS = re.compile(r"\\partial|\\nabla|∂|∇|\\frac\s*\{\s*d")


def wrt_of(header: str) -> str | None:
    """The variable a header cell differentiates with respect to, or None.

    >>> wrt_of(r"$\\frac{\\partial f}{\\partial \\boldsymbol{\\Sigma}}$"), wrt_of(r"$\\nabla_{\\mathbf{w}} f$")
    ('Σ', 'w')
    """
    try:
        maths = maths_of(header)
    except CellError:
        return None
    for pattern in _HEADERS:
        m = pattern.search(maths)
        if m:
            raw = next(g for g in m.groups() if g is not None)
            try:
                name = latex_to_matcalc(raw)
            except CellError:
                return None
            return name if NAME.fullmatch(name) else None
    return None


# ======================================================================================
# Rows
# ======================================================================================


@dataclass
class RowResult:
    """One row of a table: what was read, and the verdict on each claim."""

    line: int
    expression: str
    claim: str
    wrt: str
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None
    #: what the error makes the row: "unreadable", or "unchecked" (the time limit)
    error_status: str = "unreadable"
    #: the notes at the end of its cells, used (declaring) or not
    all_notes: list[Note] = field(default_factory=list)
    #: how each \cdot between two vectors was read
    readings: list[str] = field(default_factory=list)
    #: the names written in a bold font (vectors, whatever their letter)
    vectors: frozenset[str] = frozenset()
    #: the expression as parsed before the check (to explain a claim that cannot be read)
    parsed: api.Expression | None = None
    #: the row's cells as written in the file
    cells: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """The notes that were not used."""
        return [n.text for n in self.all_notes if not n.used]

    @property
    def declared(self) -> list[str]:
        """The names its notes declare symmetric."""
        return [name for n in self.all_notes if n.used for name in n.names]

    @property
    def status(self) -> str:
        """verified, wrong, unchecked or unreadable."""
        if self.error is not None:
            return self.error_status
        statuses = {v.status for v in self.verdicts}
        for s in ("wrong", "unchecked"):
            if s in statuses:
                return s
        return "verified" if statuses else "unreadable"

    @property
    def correct(self) -> bool | None:
        """True (verified), False (wrong) or None (unchecked or unreadable)."""
        return {"verified": True, "wrong": False}.get(self.status)

    @property
    def expression_read(self) -> api.Expression | None:
        """The expression as the check read it (None when it could not be read)."""
        return self.verdicts[0].expression if self.verdicts else self.parsed

    def unexpected_kinds(self) -> list[str]:
        """The undeclared variables whose shape is not the kind their name suggests
        ("x is a scalar here, though a lowercase letter is a vector by default")."""
        e = self.expression_read
        if e is None:
            return []
        out = []
        for name, (rows, cols) in e._shapes.items():
            if name in e.decls.variables:
                continue
            kind = ("scalar" if (rows, cols) == (1, 1) else "vector" if cols == 1 else
                    "row vector" if rows == 1 else "matrix")
            default = "vector" if name in self.vectors else default_kind(name)
            if kind != default:
                why = "a bold letter" if name in self.vectors else _KIND_WHY[default]
                out.append(f"{name} is a {kind} here, though {why} is a {default} by default")
        return out

    def text(self, ascii: bool = False) -> str:
        if self.verdicts:
            claims = " = ".join(v.claim.text(ascii) for v in self.verdicts)
            head = f"line {self.line}: d/d{self.wrt} [{self.verdicts[0].expression.text(ascii)}] = {claims}"
        elif self.wrt:
            head = f"line {self.line}: d/d{self.wrt} [{self.expression}] = {self.claim}"
        else:
            head = f"line {self.line}:"
        lines = [head]
        # how the row was read: what its notes declared, how \cdot was read, unexpected shapes
        read = []
        if self.declared:
            used = sum(bool(n.names) for n in self.all_notes)
            read.append(f"{', '.join(self.declared)} declared symmetric (from the note{'s' if used > 1 else ''})")
        read += [r.replace(" · ", " \\cdot ") for r in self.readings] if ascii else self.readings
        e = self.expression_read
        odd = self.unexpected_kinds()
        if e is not None and odd:
            read.append(f"read with {e.where(ascii)}: {'; '.join(odd)}")
        if read:
            lines.append(f"  {'; '.join(read)}")
        shown = {n for v in self.verdicts for n in getattr(v, "notes", ())}  # the verdict says these
        lines += [f"  assumed: {a}" for a in (e.assumptions if e is not None else ()) if a not in shown]
        if self.error:
            lines.append(f"  {'unchecked' if self.error_status == 'unchecked' else 'unreadable'}: {self.error}")
        body = "\n".join(v.text(ascii) for v in self.verdicts)
        lines += [f"  {ln}" for ln in body.splitlines()]
        lines += [f"  note not used: {n.text}{f' ({n.why})' if n.why else ''}" for n in self.all_notes if not n.used]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: line, cells (as written), expression and claim (as read, in matcalc's
        notation), wrt, status, error, verdicts, diagnosis; declared (the
        notes' declarations, "A: symmetric"), readings (of each \\cdot between vectors),
        assumptions and shapes (of the expression as checked: every variable's inferred
        shape), and notes (those not used, each {"note", "why"})."""
        e = self.expression_read
        return {"line": self.line, "cells": list(self.cells), "expression": self.expression, "wrt": self.wrt,
                "claim": self.claim,
                "status": self.status, "error": self.error,
                "verdicts": [v.to_dict() for v in self.verdicts],
                "diagnosis": [d for v in self.verdicts for d in v.diagnosis],
                "declared": [f"{n}: symmetric" for n in self.declared], "readings": list(self.readings),
                "assumptions": list(e.assumptions) if e is not None else [],
                "shapes": e.shapes if e is not None else {},
                "notes": [{"note": n.text, "why": n.why or None} for n in self.all_notes if not n.used]}


_KIND_WHY = {"vector": "a lowercase letter", "matrix": "a capital letter", "scalar": "a Greek letter"}


def to_dict(rows: list[RowResult], layout: str, source: str | None = None) -> dict[str, Any]:
    """A checked table, JSON-ready, in the schema of ``matcalc/schema/result.schema.json``
    (kind ``table``): the layout, the summary, counts by status and each row."""
    counts = {s: sum(r.status == s for r in rows) for s in ("verified", "wrong", "unchecked", "unreadable")}
    return {"version": SCHEMA_VERSION, "kind": "table", "source": source, "layout": layout,
            "summary": summary(rows, layout), "counts": counts, "exit_code": exit_code(rows),
            "rows": [r.to_dict() for r in rows]}


def exit_code(rows: list[RowResult]) -> int:
    """1 if any row is wrong, else 2 if any is unreadable, else 3 if any is unchecked, else 0."""
    statuses = {r.status for r in rows}
    for status in ("wrong", "unreadable", "unchecked"):
        if status in statuses:
            return EXIT_CODES[status]
    return 0


def summary(rows: list[RowResult], layout: str) -> str:
    good = sum(r.status == "verified" for r in rows)
    parts = [f"{good} of {len(rows)} rows correct in {layout} layout"]
    for status in ("wrong", "unreadable", "unchecked"):
        lines = [str(r.line) for r in rows if r.status == status]
        if lines:
            parts.append(f"{status}: line{'s' if len(lines) > 1 else ''} {', '.join(lines)}")
    return "; ".join(parts)


def markdown(text: str, rows: list[RowResult], layout: str) -> str:
    """``text`` with a verdict column added to each table that was checked (✓ verified,
    ✗ wrong with matcalc's answer, ? unchecked or unreadable with the reason), and the
    summary below it: the notes written back, with their check."""
    lines = text.lstrip("\ufeff").splitlines()
    by_line = {r.line: r for r in rows}
    for no, _header, body in _tables(lines):
        if not any(line in by_line for line, _ in body):
            continue
        _add_cell(lines, no - 1, "check")
        _add_cell(lines, no, "---")
        for line, _ in body:
            r = by_line.get(line)
            _add_cell(lines, line - 1, _verdict_cell(r) if r is not None else "")
    headers = [r for r in rows if not r.wrt and r.error]  # a table whose header could not be read
    tail = ["", f"**matcalc check:** {summary(rows, layout)}."]
    tail += [f"- line {r.line}: {r.error}" for r in headers]
    return "\n".join(lines + tail) + "\n"


def _add_cell(lines: list[str], i: int, cell: str) -> None:
    line = lines[i].rstrip()
    cell = cell.replace("|", "\\|")
    if cell == "---":  # the separator row: |---|---|---|
        lines[i] = f"{line}---|" if line.endswith("|") else f"{line}|---"
        return
    lines[i] = f"{line} {cell} |" if line.endswith("|") and not line.endswith("\\|") else f"{line} | {cell}"


def _verdict_cell(r: RowResult) -> str:
    if r.error is not None:
        return f"{'? unchecked' if r.status == 'unchecked' else 'unreadable'}: {_first_sentence(r.error)}"
    if r.status == "verified":
        return "✓ verified"
    if r.status == "wrong":
        wrong = next(v for v in r.verdicts if v.correct is False)
        why = f"; {_first_sentence(wrong.diagnosis[0])}" if wrong.diagnosis else ""
        return f"✗ wrong: matcalc gives ${wrong.answer.latex()}${why}"
    unchecked = next((v for v in r.verdicts if v.correct is None), None)
    why = unchecked.check.detail if unchecked is not None and unchecked.check is not None else "no verdict"
    return f"? unchecked: {_first_sentence(why)}"


def _first_sentence(text: str) -> str:
    """The message's first line up to its first sentence end (". ") outside brackets, at
    most 300 characters."""
    text = text.split("\n")[0]
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and text.startswith(". ", i):
            text = text[:i + 1]
            break
    return text if len(text) <= 300 else text[:299] + "…"


# ======================================================================================
# Tables
# ======================================================================================


def split_row(line: str) -> list[str]:
    """The cells of a table row: split at ``|`` outside ``$…$`` and never at ``\\|``."""
    s = line.strip()
    cells, cur, maths, i = [], [], False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == "$":
            maths = not maths
        if c == "|" and not maths:
            cells.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    cells.append("".join(cur))
    if s.startswith("|"):
        cells = cells[1:]
    if s.endswith("|") and not s.endswith("\\|") and cells and not cells[-1].strip():
        cells = cells[:-1]
    return [c.strip() for c in cells]


def _is_separator(line: str) -> bool:
    cells = split_row(line)
    return len(cells) >= 1 and all(re.fullmatch(r":?-+:?", c) for c in cells) and "-" in line


def _tables(lines: list[str]) -> Iterator[tuple[int, list[str], list[tuple[int, list[str]]]]]:
    """(header line number, header cells, [(line number, cells) of each body row])."""
    fence = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if fence is not None:
            if line.startswith(fence):
                fence = None
            i += 1
            continue
        if line.startswith(("```", "~~~")):
            fence = line[:3]
            i += 1
            continue
        if line.startswith("|") and i + 1 < len(lines) and _is_separator(lines[i + 1]):
            header = split_row(line)
            body = []
            j = i + 2
            while j < len(lines) and lines[j].strip().startswith("|"):
                body.append((j + 1, split_row(lines[j])))
                j += 1
            yield i + 1, header, body
            i = j
            continue
        i += 1


def _looks_like_derivative_table(header: list[str], body: list[tuple[int, list[str]]]) -> bool:
    if any(_DERIVATIVE_WORDS.search(c) for c in header[:2]):
        return True
    return any(len(cells) >= 2 and "$" in cells[0] and "$" in cells[1] for _, cells in body)


def check_table(text: str, layout: str = "denominator", where: str | None = None,
                timeout: float = limits.DEFAULT_TIMEOUT) -> list[RowResult]:
    """Check every row of every derivative table in a Markdown text.

    ``timeout`` is the time limit of each row (reading, differentiating, the SymPy check).
    """
    if not isinstance(text, str):
        raise TableError(f"a table is Markdown text (a str), not {type(text).__name__}; "
                         "read a file with read_table_file")
    if layout not in api.LAYOUTS:
        raise MatcalcError(f"layout must be one of {', '.join(api.LAYOUTS)}, not {layout!r}")
    try:
        timeout = limits.valid_timeout(timeout)
    except ValueError as err:
        raise MatcalcError(str(err)) from None
    declarations = parse_where(where)  # a bad --where is an error before any row
    functions = frozenset(declarations.functions)
    kinds = {name: _kind(v.rows, v.cols) for name, v in declarations.variables.items()}
    results: list[RowResult] = []
    for no, header, body in _tables(text.lstrip("\ufeff").splitlines()):
        wrt = wrt_of(header[1]) if len(header) >= 2 else None
        if wrt is None:
            if _looks_like_derivative_table(header, body):
                cell = header[1] if len(header) >= 2 else (header[0] if header else "")
                rows = ("" if not body else f"; the row below it (line {body[0][0]}) is not checked"
                        if len(body) == 1 else
                        f"; the {len(body)} rows below it (lines {body[0][0]}–{body[-1][0]}) are not checked")
                results.append(RowResult(no, "", "", "", error=(
                    f"cannot read the header cell '{cell}' as a derivative (write "
                    "$\\frac{\\partial f}{\\partial x}$, $\\partial f / \\partial x$ or $\\nabla_{x} f$)"
                    + rows)))
            continue
        for line, cells in body:
            results.append(_check_row(line, cells, wrt, layout, where, timeout, functions, kinds))
    return results


def _kind(rows: object, cols: object) -> str:
    """A declared shape's kind, as the cell reader asks it (what |X| is): scalar, vector or matrix."""
    return "scalar" if rows == cols == 1 else "vector" if 1 in (rows, cols) else "matrix"


def _notes(cell: str) -> tuple[str, list[str]]:
    """The cell without its trailing notes ("(symmetric $A$)", "($A = A^T$)"), and the
    notes: brackets at the end, outside the maths (in a cell without $, only brackets
    with a word of three letters are a note)."""
    notes: list[str] = []
    while True:
        m = re.search(r"\(([^()$]*(?:\$[^$]*\$[^()$]*)*)\)\s*$", cell)
        dollars = len(re.findall(r"(?<!\\)\$", cell[:m.start()])) if m else 0
        outside = dollars > 0 and dollars % 2 == 0
        if not m or not (outside or re.search(r"[A-Za-z]{3,}", re.sub(r"\$[^$]*\$", "", m.group(1)))):
            return cell, notes[::-1]
        notes.append(m.group(1).strip())
        cell = cell[:m.start()].rstrip()


@dataclass(frozen=True, slots=True)
class Note:
    """A note in parentheses at the end of a cell: the names it declares symmetric, or
    why it was not used (``why`` is "" when it declares nothing and there is nothing to say)."""

    text: str
    names: tuple[str, ...] = ()
    why: str | None = None

    @property
    def used(self) -> bool:
        return self.why is None


#: the words of a declaring note, as one letter each; any other word (not, non-, skew-,
#: anti-, general, wrong, if, unless, necessarily, …) makes the note a plain note
_NOTE_WORDS = {"symmetric": "S", "for": "F", "is": "I", "are": "I", "and": "A", "positive": "P",
               "definite": "D", "semidefinite": "D", "semi-definite": "D"}
#: "symmetric A", "for symmetric A, B", "A and B are symmetric", "A = Aᵀ", "symmetric positive definite Σ"
_DECLARING = re.compile(r"F?(?:S(?:PD)?L|LI?S(?:PD)?|E(?:,A?E|AE)*)".replace("L", r"N(?:,A?N|AN)*"))
_NOTE_TOKEN = re.compile(r"\$[^$]*\$|[^\W\d_]+(?:-[^\W\d_]+)*|,|[^\s,]")
_PLAIN = "only a plain note such as 'symmetric $A$', '$A$ is symmetric' or '$A = A^T$' declares"


def _note(text: str) -> Note:
    """What a note declares: only a plain positive one declares anything (see _DECLARING)."""
    shape, names = [], []
    for tok in _NOTE_TOKEN.findall(text):
        if tok.startswith("$"):
            try:
                sides = latex_sides(tok)
            except CellError:
                sides = []
            parts = sides[0].split(" , ") if len(sides) == 1 else []
            if parts and all(NAME.fullmatch(p) for p in parts):
                shape.append("N")
                names += parts
            elif len(sides) == 2 and NAME.fullmatch(name := min(sides, key=len)) and set(sides) == {name, f"{name}'"}:
                shape.append("E")  # A = Aᵀ or Aᵀ = A
                names.append(name)
            else:
                shape.append("X")
        elif len(tok) == 1 and tok.isalpha() and tok.isupper():  # A, Σ written without $
            shape.append("N")
            names.append(tok)
        else:
            shape.append(_NOTE_WORDS.get(tok.lower(), "," if tok == "," else "X"))
    if _DECLARING.fullmatch("".join(shape)):
        return Note(text, tuple(dict.fromkeys(names)))
    return Note(text, why=_PLAIN if re.search(r"sym", text, re.I) else "")


def _row_notes(notes: list[Note], where: str | None) -> list[Note]:
    """The notes, a declaration given up where it cannot apply: a name that is not a
    matrix by default, or that --where declares already."""
    declared = parse_where(where).variables
    out = []
    for note in notes:
        why = [f"{n} is not a matrix (a capital letter) but a {default_kind(n)}" for n in note.names
               if default_kind(n) != "matrix"]
        why += [f"{n} is declared by --where already" for n in note.names if n in declared]
        out.append(Note(note.text, why="; ".join(why)) if why else note)
    seen: set[str] = set()  # a name declared by two notes is declared once
    for k, note in enumerate(out):
        if note.names:
            out[k] = Note(note.text, tuple(n for n in note.names if n not in seen))
            seen.update(note.names)
    return out


def _check_row(no: int, cells: list[str], wrt: str, layout: str, where: str | None, timeout: float,
               functions: frozenset[str], kinds: dict[str, str]) -> RowResult:
    if len(cells) < 2 or not cells[0] or not cells[1]:
        return RowResult(no, cells[0] if cells else "", cells[1] if len(cells) > 1 else "", wrt, cells=list(cells),
                         error="the row needs an expression and its derivative in its first two cells")
    expr_cell, expr_notes = _notes(cells[0])
    claim_cell, claim_notes = _notes(cells[1])  # notes may end either cell
    row = RowResult(no, expr_cell, claim_cell, wrt, cells=list(cells),
                    all_notes=_row_notes([_note(n) for n in expr_notes + claim_notes], where))
    try:
        with limits.deadline(timeout, f"checking line {no}"):
            try:
                cell = read_cell(expr_cell, functions, kinds)
                if len(cell.sides) > 1:
                    raise CellError("an equation where an expression was expected")
                row.expression = cell.sides[0]
            except CellError as err:
                row.error = f"cannot read the cell '{expr_cell}': {err.message}"
                return row
            try:
                claim = read_cell(claim_cell, functions, kinds)
                row.claim = " = ".join(claim.sides)
            except CellError as err:
                row.error = f"cannot read the cell '{claim_cell}': {err.message}"
                return row
            row.readings = cell.readings + claim.readings
            row.vectors = cell.vectors | claim.vectors
            try:
                # to say which cell an error is in, and to know the names in the row
                row.parsed = api.parse(row.expression, _declared(where, row.all_notes, row.vectors))
                names = row.parsed.shapes
            except MatcalcError as err:
                row.error = f"cannot read the cell '{expr_cell}' (read as '{row.expression}'): {err.kind}: {err.message}"
                return row
            for k, note in enumerate(row.all_notes):  # a note about another row's names is not used
                missing = [n for n in note.names if n not in names]
                if missing:
                    verb = "is" if len(missing) == 1 else "are"
                    row.all_notes[k] = Note(note.text, why=f"{', '.join(missing)} {verb} not in the row")
            declared = _declared(where, row.all_notes, row.vectors)
            for side in claim.sides:
                try:
                    budget = limits.check_budget(limits.remaining() or timeout)
                    row.verdicts.append(check(row.expression, wrt, side, declared, layout=layout, timeout=budget))
                except TimeLimitError:
                    raise
                except MatcalcError as err:
                    if not isinstance(err, DiffError):  # the expression was read: the claim is at fault
                        row.error = (f"cannot read the cell '{claim_cell}' (read as '{side}'): "
                                     f"{err.kind}: {err.message.removeprefix('in the claim: ')}")
                    else:
                        row.error = f"{err.kind}: {err.message}"
                    row.verdicts.clear()
                    return row
    except TimeLimitError as err:
        row.verdicts.clear()
        row.error, row.error_status = err.message, "unchecked"
    return row


def _declared(where: str | None, notes: list[Note], bold: frozenset[str] = frozenset()) -> str | None:
    """--where, the notes' declarations, and the bold lowercase letters (\\boldsymbol{\\mu} is a
    vector, though μ alone is a scalar; \\mathbf{a} is a vector, never read as a coefficient),
    as one declaration string."""
    given = set(parse_where(where).variables) if where else set()
    vectors = sorted(n for n in bold if n not in given and n[:1].isalpha() and default_kind(n) in ("scalar", "vector"))
    return ", ".join([*([where] if where else []), *(f"{n}: symmetric" for note in notes for n in note.names
                                                     if note.used), *(f"{n}: vector" for n in vectors)]) or None
