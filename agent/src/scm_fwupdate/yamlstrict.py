"""Strict YAML: safe loading that rejects duplicate keys, errors with their line.

Used for the configuration file and the bundle manifest.
"""

from __future__ import annotations

from typing import Any

import yaml


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (a silent override hides mistakes)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "unhashable mapping key", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class YamlSyntaxError(Exception):
    """Internal: YAML that does not parse; callers turn it into their own AgentError."""

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = " ".join(str(reason).split())
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{self.reason}")


def yaml_load_strict(text: str | bytes) -> Any:
    """yaml.safe_load that also rejects duplicate keys; raises YamlSyntaxError."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "invalid YAML"
        raise YamlSyntaxError(line, reason) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc) or type(exc).__name__) from exc
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date: 2026-13-01
        raise YamlSyntaxError(None, str(exc) or type(exc).__name__) from exc
    except RecursionError as exc:
        raise YamlSyntaxError(None, "nesting too deep") from exc


def key_name(key: object) -> str:
    """A key as it appears in messages: plain if printable text, repr otherwise."""
    if isinstance(key, str) and key and key.isprintable() and "'" not in key:
        return key
    return repr(key)
