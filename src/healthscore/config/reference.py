"""The workspace-file reference (docs/workspace.md) and JSON Schema, rendered from the models.

``python -m healthscore.config.reference`` rewrites both; a test fails when they are stale or a
key has no description.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydantic import BaseModel

from healthscore.config.models import ColumnMap, CsvOptions, Source, WorkspaceConfig

MODELS: list[tuple[str, type[BaseModel], str]] = [
    ("Top level", WorkspaceConfig, ""),
    ("A source", Source, "sources.<name>"),
    ("A column mapping", ColumnMap, "sources.<name>.columns.<canonical column>"),
    ("CSV options", CsvOptions, "sources.<name>.csv"),
]

_INTRO = """\
# healthscore.yaml reference

Every workspace folder holds a `healthscore.yaml`. This page is generated from the pydantic
models in `src/healthscore/config/models.py` (`python -m healthscore.config.reference`), which
also validate the file; the JSON Schema is in [healthscore.schema.json](healthscore.schema.json)
for editors. An invalid file is refused with every problem listed as `file:line: key: message`.
How sources are mapped, with examples, is in [sources.md](sources.md).
"""


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "").replace("healthscore.config.models.", "")
    text = text.replace("NoneType", "null").replace("<class '", "").replace("'>", "")
    text = re.sub(r"Optional\[(.*)\]$", r"\1 | null", text)
    text = re.sub(r"Annotated\[(.*?), FieldInfo\(.*\)\]", r"\1", text)
    text = re.sub(r"Union\[(.*?)\]", lambda m: m.group(1).replace(", ", " | "), text)
    return text.replace("Literal[", "one of [")


def render_markdown() -> str:
    out = [_INTRO]
    for title, model, prefix in MODELS:
        out.append(f"## {title}" + (f" (`{prefix}`)" if prefix else "") + "\n")
        out.append((model.__doc__ or "").strip().splitlines()[0] + "\n")
        out.append("| key | type | default | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            value = None if field.is_required() else field.get_default(
                call_default_factory=True)
            if field.is_required():
                default = "required"
            elif isinstance(value, BaseModel):
                default = "see below"
            elif value is None:
                default = ""
            else:
                default = f"`{json.dumps(value)}`"
            typ = _type_name(field.annotation).replace("|", "or").replace("None", "null")
            out.append(f"| `{name}` | {typ} | {default} | {field.description or ''} |")
        out.append("")
    return "\n".join(out)


def json_schema() -> str:
    schema = WorkspaceConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "healthscore.yaml"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(docs: Path) -> None:
    (docs / "workspace.md").write_text(render_markdown(), encoding="utf-8")
    (docs / "healthscore.schema.json").write_text(json_schema(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"))
