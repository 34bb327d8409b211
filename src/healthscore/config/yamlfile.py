"""YAML loading that remembers where every key came from, for errors that name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from healthscore.errors import ConfigError

Loc = tuple[str | int, ...]

#: Largest configuration file read (bytes): a workspace or scorecard file is a few kilobytes.
MAX_BYTES = 1_000_000
#: Most values a file may hold once its aliases (``*name``) are expanded: aliases are handy
#: for repeated blocks, but nested ones multiply ("billion laughs": 10 lines, 4.6 GB).
MAX_NODES = 100_000


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: ~10x faster
    """SafeLoader that refuses duplicate keys (a silent overwrite hides mistakes)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _index_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[loc + (key,)] = key_node.start_mark.line + 1
            _index_lines(value_node, loc + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, loc + (i,), out)


class YamlDocument:
    """A parsed YAML file: its data and the line of every key path."""

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int]):
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest key path in ``loc`` that exists in the file."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def where(self, loc: Loc) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)

    def _untagged(self, loc: Loc) -> Loc:
        """``loc`` without the tags pydantic adds for a union told apart by ``kind``
        (``channels.slack.webhook.url`` is ``channels.slack.url`` in the file)."""
        out, node = [], self.data
        for p in loc:
            if isinstance(node, dict) and p not in node and node.get("kind") == p:
                continue
            out.append(p)
            if isinstance(node, dict):
                node = node.get(p)
            elif isinstance(node, list) and isinstance(p, int) and 0 <= p < len(node):
                node = node[p]
            else:
                node = None
        return tuple(out)

    def validation_error(self, exc: ValidationError, what: str) -> ConfigError:
        """Turn pydantic's errors into one ConfigError naming file:line and key path for each."""
        problems = []
        for err in exc.errors():
            loc = self._untagged(
                tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p)))
            msg = err["msg"].removeprefix("Value error, ")
            # Validators point below their field with an "[at a.b] " prefix.
            if msg.startswith("[at "):
                sub, _, msg = msg[4:].partition("] ")
                loc = loc + tuple(sub.split("."))
            key = ".".join(str(p) for p in loc) or "(top level)"
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see the reference in docs/)"
            problems.append(f"{self.where(loc)}: {key}: {msg}")
        return ConfigError(f"{self.path}: invalid {what}", problems=problems)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for with every alias expanded (memoised: linear in
    the file, however much the aliases multiply)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_NODES + 1  # a cycle (an alias inside its own anchor) never ends
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes)
                       for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(item, sizes) for item in node.value)
    else:
        size = 1
    sizes[id(node)] = size = min(size, MAX_NODES + 1)
    return size


def _too_deep(path: Path) -> ConfigError:
    return ConfigError(f"{path}: values nested too deeply to read",
                       hint="a configuration file nests a few levels")


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse ``path``; a ConfigError names the file and line of any syntax error.

    Bounded: a file over :data:`MAX_BYTES`, or whose aliases expand past :data:`MAX_NODES`
    values, is refused before it is built.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: the file is {size:,} bytes, more than a configuration "
                              f"file may be ({MAX_BYTES:,})",
                              hint="keep data in source files; configuration stays small")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        if node is not None and _expanded_size(node, {}) > MAX_NODES:
            raise ConfigError(f"{path}: its aliases (*name) expand to more than "
                              f"{MAX_NODES:,} values",
                              hint="repeat fewer blocks through aliases, or nest them less")
        data = yaml.load(text, Loader=_LineLoader) if node is not None else {}
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own limit
            raise _too_deep(path) from None
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        context = ""
        if exc.context and exc.context_mark and exc.problem_mark:
            context = f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise ConfigError(
            f"{path}{line}: not valid YAML: {exc.problem or exc.context}{context}",
            hint="check indentation and quoting around that line",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise _too_deep(path) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDocument(path, data, lines)


def load_model(path: Path, model, what: str, shape_hint: str):
    """Read ``path`` and validate it as pydantic ``model``: (document, instance), with every
    problem named by file:line and key path."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}:1: expected a mapping ({shape_hint})")
    try:
        return doc, model.model_validate(doc.data)
    except ValidationError as exc:
        raise doc.validation_error(exc, what) from None
