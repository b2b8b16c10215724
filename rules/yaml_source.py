"""Read rules.yaml safely into values that remember their line and column.

Every error an admin sees must point at the line to fix, so the file is composed into nodes
(safe loader only) and turned into `Located` values that keep their marks. Only the plain YAML
types are accepted: any other tag (`!!python/object`, custom `!tags`) is refused, as are
duplicate keys (YAML silently keeps the last one, hiding a typo) and alias expansion beyond a
small budget (a "billion laughs" file would otherwise eat the process) and nesting
deeper than the composer's recursion can take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
MAX_ALIASES = 100
MAX_NODES = 20_000
MAX_DEPTH = 50

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file, as editors count."""

    line: int
    column: int


@dataclass(frozen=True)
class Located:
    """A YAML value with where it was written; maps and lists hold `Located` items."""

    value: Any
    mark: Mark
    # Offset from `mark` to the first character of a scalar's text (1 for quoted scalars),
    # so an error inside an expression can point at the exact column.
    text_offset: int = 0
    single_line: bool = True
    # For mappings: where each key was written, so "unknown key" points at the key itself.
    key_marks: dict[str, Mark] | None = None


class YamlSourceError(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _mark(node_mark: yaml.Mark | None) -> Mark:
    if node_mark is None:
        return Mark(1, 1)
    return Mark(node_mark.line + 1, node_mark.column + 1)


_OPENERS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_tokens(text: str) -> None:
    """Refuse alias bombs and deep nesting before composing, which recurses per level."""
    aliases = 0
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPENERS):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSourceError(
                    _mark(token.start_mark),
                    f"values nested more than {MAX_DEPTH} levels deep; rules files are flat",
                )
        elif isinstance(token, _CLOSERS):
            depth -= 1
        elif isinstance(token, yaml.AliasToken):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlSourceError(
                    _mark(token.start_mark),
                    f"more than {MAX_ALIASES} aliases (*name); refusing a file that may expand "
                    "without bound",
                )


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.nodes = 0

    def build(self, node: yaml.Node) -> Located:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlSourceError(
                _mark(node.start_mark),
                f"more than {MAX_NODES} values after alias expansion; refusing the file",
            )
        mark = _mark(node.start_mark)
        if node.tag not in _PLAIN_TAGS:
            raise YamlSourceError(
                mark, f"tag {node.tag!r} is not allowed; rules files hold plain values only"
            )
        if isinstance(node, yaml.MappingNode):
            items: dict[str, Located] = {}
            keys: dict[str, Located] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node)
                if not isinstance(key.value, str):
                    raise YamlSourceError(key.mark, f"key {key.value!r} must be text")
                if key.value in items:
                    first = keys[key.value].mark
                    raise YamlSourceError(
                        key.mark,
                        f"duplicate key {key.value!r} (first at line {first.line}); "
                        "YAML would silently keep only the last one",
                    )
                keys[key.value] = key
                items[key.value] = self.build(value_node)
            return Located(items, mark, key_marks={k: v.mark for k, v in keys.items()})
        if isinstance(node, yaml.SequenceNode):
            return Located([self.build(child) for child in node.value], mark)
        value = self.loader.construct_object(node, deep=True)
        style = getattr(node, "style", None)
        single_line = node.start_mark.line == node.end_mark.line
        return Located(value, mark, 1 if style in ("'", '"') else 0, single_line)


def load_located(text: str) -> Located:
    """Parse `text` into `Located` values; raises `YamlSourceError` with a position."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise YamlSourceError(Mark(1, 1), f"file is larger than {MAX_FILE_BYTES} bytes")
    try:
        _check_tokens(text)
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise YamlSourceError(Mark(1, 1), "file is empty; expected a mapping with 'rules'")
            return _Builder(loader).build(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or "invalid YAML"
        raise YamlSourceError(_mark(exc.problem_mark), f"invalid YAML: {problem}") from None
