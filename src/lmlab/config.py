"""Frozen dataclass configs: build from dicts/JSON, apply `--key value` overrides, check keys.

Every config in lmlab (model, training) is a frozen dataclass validated in `__post_init__`.
These helpers are the only way configs are built from outside data, so unknown keys and
badly typed values fail the same way everywhere: one LmlabError naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from lmlab.errors import LmlabError

C = TypeVar("C")


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unknown_key(cls: type, key: str) -> LmlabError:
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return LmlabError(f"unknown {cls.__name__} key '{key}'{hint}; valid keys: {', '.join(names)}")


def parse_value(text: str, typ: Any, key: str = "value") -> Any:
    """Turn a command-line string into a value of the field's type (int, float, bool, str, Optional)."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if text.lower() in ("none", "null"):
            return None
        return parse_value(text, args[0], key)
    if origin is typing.Literal:
        choices = typing.get_args(typ)
        if text not in choices:
            raise LmlabError(f"{key} must be one of {', '.join(map(str, choices))}, got '{text}'")
        return text
    try:
        if typ is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text)
        if typ is float:
            return float(text)
        if typ is str:
            return text
    except ValueError:
        raise LmlabError(f"{key} expects {typ.__name__}, got '{text}'") from None
    try:  # a list or other JSON value, e.g. --channels [32,64]
        return json.loads(text)
    except json.JSONDecodeError:
        raise LmlabError(f"{key} expects a JSON value such as [32,64], got '{text}'") from None


def check_value(value: Any, typ: Any, key: str = "value") -> Any:
    """Check a value that arrived already typed (from JSON) against the field's type; ints pass as floats."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return None if value is None else check_value(value, args[0], key)
    if origin is typing.Literal:
        choices = typing.get_args(typ)
        if value not in choices:
            raise LmlabError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (bool, int, float, str) and (type(value) is not typ):
        raise LmlabError(f"{key} expects {typ.__name__}, got {value!r}")
    return value


def check_choices(config: Any, *names: str) -> None:
    """ValueError unless each named field holds one of the values its Literal type lists (for __post_init__)."""
    hints = _field_types(type(config))
    for name in names:
        choices = typing.get_args(hints[name])
        if getattr(config, name) not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got '{getattr(config, name)}'")


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build `cls` from a dict, refusing unknown keys (with a suggestion) and badly typed values."""
    if not isinstance(data, dict):
        raise LmlabError(f"{cls.__name__} settings must be a JSON object of keys, got {type(data).__name__}")
    types_ = _field_types(cls)
    for key in data:
        if key not in types_:
            raise _unknown_key(cls, key)
    values = {key: check_value(value, types_[key], key) for key, value in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise LmlabError(f"invalid {cls.__name__}: {e}") from None


def replace(config: C, overrides: dict[str, str]) -> C:
    """Return a copy of `config` with string overrides (from `--key value`) parsed to field types."""
    types_ = _field_types(type(config))
    values = {}
    for key, text in overrides.items():
        key = key.replace("-", "_")
        if key not in types_:
            raise _unknown_key(type(config), key)
        parse = parse_value if isinstance(text, str) else check_value
        values[key] = parse(text, types_[key], key)
    try:
        return dataclasses.replace(config, **values)
    except (TypeError, ValueError) as e:
        raise LmlabError(f"invalid {type(config).__name__}: {e}") from None


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_json(path: str | Path, damaged_hint: str = "") -> dict[str, Any]:
    """Read a JSON object from a file with a clear error for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise LmlabError(f"config file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LmlabError(f"{path} is not valid JSON ({e}){damaged_hint}") from None
    if not isinstance(data, dict):
        raise LmlabError(f"{path} must hold a JSON object of config keys{damaged_hint}")
    return data
