"""Every JSON matcalc prints or returns follows its documented schema
(``matcalc/schema/result.schema.json``, version 1): the command line's --format json for
parse, diff, check and check --table, and every ``to_dict``.  The schema is checked too:
it is a valid JSON Schema, and documents that break it are refused."""

from __future__ import annotations

import json

import jsonschema
import pytest

import matcalc
import matcalc.schema
from matcalc.cli import main

from identities import ROWS

SCHEMA = matcalc.schema.schema()  # the file shipped in the package, read as installed
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def valid(data: dict) -> dict:
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:5])
    return data


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["version"] == {"const": matcalc.api.SCHEMA_VERSION}


@pytest.mark.parametrize("row", ROWS[:40], ids=lambda r: f"{r.expr} wrt {r.wrt}")
def test_derivatives_follow_the_schema(row):
    for layout in ("denominator", "numerator"):
        data = valid(matcalc.diff(row.expr, row.wrt, row.where, layout=layout).to_dict())
        assert data["kind"] == "derivative" and data["version"] == 1
        assert (data["gradient"] is None) != data["scalar"]


def test_sizes_are_structured_values():
    data = valid(matcalc.diff("A X B", "X").to_dict())
    assert data["jacobian"]["shape"] == "m·q×n·p" and data["jacobian"]["dims"] == [["m", "q"], ["n", "p"]]
    assert data["expression"]["dims"] == ["m", "q"]
    assert {v["name"]: (v["kind"], v["dims"]) for v in data["variables"]} == {
        "A": ("matrix", ["m", "n"]), "B": ("matrix", ["p", "q"]), "X": ("matrix", ["n", "p"])}
    data = valid(matcalc.diff("x' A x", "x", "A: 3×3").to_dict())
    assert data["gradient"]["dims"] == [3, 1]
    assert [v["declared"] for v in data["variables"]] == [True, False]


def test_abstract_functions_and_notes_are_fields():
    data = valid(matcalc.diff("L(W x + b)", "W").to_dict())
    assert data["functions"] == [{"name": "L", "kind": "scalar", "note": "L: abstract scalar function (∇L its gradient)"}]
    assert "L: abstract scalar function (∇L its gradient)" in data["notes"]
    steps = data["steps"]
    assert steps[0]["lhs"] == "df" and steps[-1]["lhs"] == "∂f/∂W" and steps[-1]["lhs_latex"].startswith(r"\frac")
    assert steps[1]["rule"] == "chain rule" and steps[1]["rule_latex"] == r"\text{chain rule}"


def test_a_long_result_has_its_bindings_in_the_schema():
    net = "L(tanh(W8 tanh(W7 tanh(W6 tanh(W5 tanh(W4 tanh(W3 tanh(W2 tanh(W1 x)))))))))"
    data = valid(matcalc.diff(net, "W1").to_dict())
    assert data["gradient"]["bindings"] and data["gradient"]["bindings"][0]["dims"]


def test_a_checked_derivative_carries_its_check():
    r = matcalc.diff("tr(A X B)", "X")
    assert "check" not in valid(r.to_dict())
    r.check()
    data = valid(r.to_dict())
    assert data["check"]["status"] == "verified" and data["check"]["ok"] is True


def test_the_command_line_json_follows_the_schema(capsys, tmp_path):
    outputs = []
    for argv in (["parse", "tr(Σ⁻¹ (x − μ) (x − μ)ᵀ)", "--format", "json"],
                 ["diff", "x' A x", "x", "--format", "json"],
                 ["diff", "x' A x", "x", "--format", "json", "--no-check"],
                 ["diff", "A X B", "X", "--format", "json", "--layout", "numerator"],
                 ["check", "x' A x", "x", "2 A x", "--format", "json"],
                 ["check", "x' A x", "x", "(A + A') x", "--format", "json"]):
        main(argv)
        outputs.append(json.loads(capsys.readouterr().out))
    table = tmp_path / "notes.md"
    table.write_text("| $f(x)$ | $\\frac{\\partial f}{\\partial x}$ |\n|---|---|\n| $x^T A x$ | $2 A x$ |\n"
                     "| $a^T x$ | $a$ |\n| $\\frob(x)$ | $x$ |\n", encoding="utf-8")
    main(["check", "--table", str(table), "--format", "json"])
    outputs.append(json.loads(capsys.readouterr().out))
    kinds = [valid(o)["kind"] for o in outputs]
    assert kinds == ["expression", "derivative", "derivative", "derivative", "verdict", "verdict", "table"]
    assert outputs[1]["check"]["status"] == "verified" and outputs[2]["check"]["status"] == "not run"
    assert [o["status"] for o in outputs[4:6]] == ["wrong", "verified"]
    t = outputs[6]
    assert t["counts"] == {"verified": 1, "wrong": 1, "unchecked": 0, "unreadable": 1} and t["exit_code"] == 1
    assert t["rows"][0]["verdicts"][0]["answer"]["text"] == "(A + Aᵀ) x"


def test_hessians_follow_the_schema():
    for text, wrt, wrt2 in (("x' A x", "x", None), ("tr(X' A X B)", "X", None), ("sum(log(1 + exp(W x + b)))", "W", "b")):
        data = valid(matcalc.hessian(text, wrt, wrt2).to_dict())
        assert data["kind"] == "hessian" and data["hessian"]["dims"] and data["hvp"]["direction"]


def test_the_schema_refuses_what_it_does_not_describe():
    """The check can fail: a missing field, a display string where dims belong, an unknown field."""
    data = matcalc.diff("x' A x", "x").to_dict()
    for broken in ({k: v for k, v in data.items() if k != "gradient"},
                   {**data, "gradient": {**data["gradient"], "dims": "m×1"}},
                   {**data, "surprise": 1},
                   {**data, "version": 2}):
        assert list(VALIDATOR.iter_errors(broken)), broken.keys()
