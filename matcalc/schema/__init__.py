"""The JSON schema of matcalc's results (``result.schema.json``, shipped beside this file):
what ``--format json`` prints and every ``to_dict()`` returns."""

from __future__ import annotations

from typing import Any

#: the version of the schema; every result carries it as ``"version"``
SCHEMA_VERSION = 1


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12), as a dict."""
    import json  # (only when asked for: `import matcalc` stays light)
    from importlib import resources

    return json.loads(resources.files(__package__).joinpath("result.schema.json").read_text(encoding="utf-8"))


__all__ = ["SCHEMA_VERSION", "schema"]
