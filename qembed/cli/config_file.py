"""Reading a run-config file, TOML or YAML, into plain data; a syntax error is one line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from qembed.cli.config_errors import RunConfigError
from qembed.cli.messages import one_line


class _YamlLoader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` as a string; this loader reads it as the float it is in TOML.
    Aliases (``*name``) are refused: a run config has no use for them, and nested ones
    expand exponentially ("billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, f"alias *{event.anchor} is not allowed in a run config: "
                                       "write the value out", event.start_mark)
        return super().compose_node(parent, index)


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def read_config_file(path: Path) -> dict[str, Any]:
    """The sections of a ``.toml``, ``.yaml`` or ``.yml`` file as plain data; a syntax
    error is one line with its line number."""
    if path.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise RunConfigError(f"{path}: a run config is a .toml, .yaml or .yml file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunConfigError(f"no such config file: {path}") from None
    except IsADirectoryError:
        raise RunConfigError(f"{path} is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunConfigError(f"cannot read {path}: {one_line(err)}") from None
    if path.suffix.lower() == ".toml":
        try:
            content: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise RunConfigError(f"{path}: TOML syntax error: {one_line(err)}") from None
    else:
        try:
            content = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader: plain data only
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise RunConfigError(f"{path}: YAML syntax error{where}: {err.problem or err.context}") from None
        except yaml.YAMLError as err:
            raise RunConfigError(f"{path}: YAML syntax error: {one_line(err)}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise RunConfigError(f"{path}: the top level must be a table of sections, got {type(content).__name__}")
    return content
