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

from healthscore.config import alerts as al
from healthscore.config.channels import EmailChannel, FileChannel, WebhookChannel
from healthscore.config.engine import EngineConfig
from healthscore.config.models import (
    ApiConfig,
    ColumnMap,
    CsvOptions,
    DatabaseSource,
    ServeConfig,
    Source,
    WorkspaceConfig,
)
from healthscore.config.scorecard import (
    Bands,
    Boolean,
    CustomMeasure,
    Group,
    Linear,
    Log,
    MeasureConfig,
    Missing,
    Percentile,
    Scorecard,
    Scoring,
    Tier,
    Variant,
)

SCORECARD_MODELS: list[tuple[str, type[BaseModel], str]] = [
    ("Top level", Scorecard, ""),
    ("A group", Group, "groups.<group>"),
    ("A measure", MeasureConfig, "groups.<group>.measures.<id>"),
    ("Scoring", Scoring, "….scoring"),
    ("Linear scoring", Linear, "….scoring.linear"),
    ("Logarithmic scoring", Log, "….scoring.log"),
    ("A tier", Tier, "….scoring.tiers[]"),
    ("Percentile scoring", Percentile, "….scoring.percentile"),
    ("Boolean scoring", Boolean, "….scoring.boolean"),
    ("Missing data", Missing, "missing, ….missing"),
    ("Bands", Bands, "bands"),
    ("A variant", Variant, "variants.<name>"),
    ("A custom measure", CustomMeasure, "….custom"),
]

_SCORECARD_INTRO = """\
# Scorecard reference

A scorecard is a YAML file in the workspace's `scorecards/` folder (see `scorecards:` in
[workspace.md](workspace.md)). It answers one question on a 0-100 scale (`health`: will this
account renew? `expansion`: is it ready to grow?). Each measure's raw value (see
[measures.md](measures.md)) becomes a 0-100 measure score through its `scoring`; measures are
weighted inside their group and groups inside the scorecard; missing data follows a declared
policy and every score records its coverage; `bands` and `grades` name the result; `variants`
override parts of the scorecard for a segment of accounts.

This page is generated from the pydantic models in `src/healthscore/config/scorecard.py`
(`python -m healthscore.config.reference`), which also validate the files; a JSON Schema for
editors is in [scorecard.schema.json](scorecard.schema.json). A file is refused with every
problem listed as `file:line: key: message`; `healthscore check` validates without scoring.

```yaml
name: health
description: Churn risk
bands: {red: 40, yellow: 70}
groups:
  usage:
    weight: 40
    measures:
      active_user_ratio:
        params: {window_days: 30}
        scoring: {linear: {from: 0.1, to: 0.6}}
        weight: 2
      days_since_last_activity:
        scoring: {linear: {from: 14, to: 1}}
  support:
    weight: 20
    measures:
      high_priority_tickets:
        params: {window_days: 30}
        scoring:
          tiers:
            - {at_most: 0, score: 100}
            - {at_most: 2, score: 60}
            - {score: 20}
variants:
  onboarding:
    when: {lifecycle_stage: onboarding}
    groups:
      usage:
        measures:
          days_since_last_activity: {weight: 3}
```

How a score is put together: the nominal weight of a measure is its group's share of the group
weights times its share of the measure weights in its group. For an account, a measure without
data is either left out (`renormalize`: the other measures of its group share its weight; a group
with nothing left is left out and the other groups share) or given a fixed score (`fixed`).
The score is the sum over measures of effective weight × measure score, so each measure's
*points* add up to the score exactly. Coverage is the share of the nominal weight that was
backed by data.
"""

MODELS: list[tuple[str, type[BaseModel], str]] = [
    ("Top level", WorkspaceConfig, ""),
    ("A source", Source, "sources.<name>"),
    ("A column mapping", ColumnMap, "sources.<name>.columns.<canonical column>"),
    ("A database source", DatabaseSource, "sources.<name>.database"),
    ("CSV options", CsvOptions, "sources.<name>.csv"),
    ("The REST API", ApiConfig, "api"),
    ("The server", ServeConfig, "serve"),
    ("The engine", EngineConfig, "engine"),
    ("Alerts", al.AlertsConfig, "alerts"),
    ("A rule", al.Rule, "alerts.rules.<name>"),
    ("A rule's conditions", al.When, "alerts.rules.<name>.when"),
    ("A drop", al.Drop, "alerts.rules.<name>.when.drop"),
    ("A renewal", al.Renewal, "alerts.rules.<name>.when.renewal"),
    ("A probability", al.Probability, "alerts.rules.<name>.when.probability"),
    ("A measure condition", al.MeasureCondition, "alerts.rules.<name>.when.measure"),
    ("Which accounts", al.Only, "alerts.rules.<name>.only"),
    ("A webhook channel", WebhookChannel, "alerts.channels.<name>, kind: webhook"),
    ("An e-mail channel", EmailChannel, "alerts.channels.<name>, kind: email"),
    ("A file channel", FileChannel, "alerts.channels.<name>, kind: file"),
    ("Routing", al.Route, "alerts.route"),
    ("A CSM's route", al.CsmRoute, "alerts.route.csms.<name>"),
    ("The digest", al.Digest, "alerts.digest"),
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
    text = re.sub(r"healthscore\.config\.\w+\.", "", str(annotation).replace("typing.", ""))
    text = text.replace("NoneType", "null").replace("<class '", "").replace("'>", "")
    text = re.sub(r"Optional\[(.*)\]$", r"\1 | null", text)
    text = re.sub(r"Annotated\[(.*?), FieldInfo\(.*\)\]", r"\1", text)
    text = re.sub(r"Annotated\[(.*?), Discriminator\(.*?\)\]", r"\1", text)
    text = re.sub(r"Union\[(.*?)\]", lambda m: m.group(1).replace(", ", " | "), text)
    return text.replace("Literal[", "one of [")


def render_markdown(models=None, intro: str = _INTRO) -> str:
    out = [intro]
    for title, model, prefix in models or MODELS:
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
            out.append(f"| `{field.alias or name}` | {typ} | {default} | "
                       f"{field.description or ''} |")
        out.append("")
    return "\n".join(out)


def render_scorecards() -> str:
    return render_markdown(SCORECARD_MODELS, _SCORECARD_INTRO)


def json_schema(model: type[BaseModel] = WorkspaceConfig, title: str = "healthscore.yaml"
                ) -> str:
    schema = model.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(docs: Path) -> None:
    (docs / "workspace.md").write_text(render_markdown(), encoding="utf-8")
    (docs / "healthscore.schema.json").write_text(json_schema(), encoding="utf-8")
    (docs / "scorecards.md").write_text(render_scorecards(), encoding="utf-8")
    (docs / "scorecard.schema.json").write_text(json_schema(Scorecard, "scorecard"),
                                                encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs"))
