"""Change values in a YAML file's text and keep everything else: comments, order, layout.

A suggestion (new weights, new band thresholds) is shown as a diff against the file the user
wrote and may be written as a new version of it; re-dumping the parsed YAML would drop the
comments that explain the scorecard. Each value is replaced where its node sits in the text;
a key the file leaves out (a weight of 1 by default) is added beside its siblings.
"""

from __future__ import annotations

from typing import Any

import yaml

from healthscore.config.yamlfile import _LineLoader

Loc = tuple[str, ...]


def _find(node: yaml.Node, loc: Loc) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(the value node at ``loc``, the mapping node that should hold its last key)."""
    parent = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            return None, None
        parent = node
        found = next((v for k, v in node.value if k.value == key), None)
        if found is None:
            return None, parent if key == loc[-1] else None
        node = found
    return node, parent


def _scalar(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def set_values(text: str, values: dict[Loc, Any]) -> str:
    """``text`` with the value at each key path set (numbers and plain words only).

    Existing values are replaced in place; a missing last key is added to its mapping (flow
    mappings ``{a: 1}`` get ``key: value, `` after the brace; block mappings a line with the
    siblings' indentation, before the first). A path whose parent mapping is missing raises
    KeyError.

    >>> set_values("g:\\n  # why\\n  weight: 3\\n  m: {scoring: x}\\n",
    ...            {("g", "weight"): 5, ("g", "m", "weight"): 0.5})
    'g:\\n  # why\\n  weight: 5\\n  m: {weight: 0.5, scoring: x}\\n'
    """
    root = yaml.compose(text, Loader=_LineLoader)
    edits: list[tuple[int, int, str]] = []
    for loc, value in values.items():
        node, parent = _find(root, loc)
        new = _scalar(value)
        if node is not None:
            if not isinstance(node, yaml.ScalarNode):
                raise KeyError(f"{'.'.join(loc)} is not a single value")
            edits.append((node.start_mark.index, node.end_mark.index, new))
        elif parent is not None:
            key = loc[-1]
            if parent.flow_style:
                at = parent.start_mark.index + 1
                edits.append((at, at, f"{key}: {new}, " if parent.value else f"{key}: {new}"))
            else:
                first = parent.value[0][0].start_mark
                line_start = first.index - first.column
                edits.append((line_start, line_start, " " * first.column + f"{key}: {new}\n"))
        else:
            raise KeyError(f"{'.'.join(loc)}: its parent is not in the file")
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text
