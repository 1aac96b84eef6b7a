"""The configuration reference (docs/configuration.md), written from the settings model: every
`CALLCENTRE_*` variable with its default, what it accepts and what it does, so the
documentation cannot drift from crm/settings.py (`callcentre config-reference`)."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode

from crm.settings import ENV_PREFIX, Settings

DOCUMENT = Path("docs/configuration.md")  # from the repository's root

HEADER = f"""# Configuration reference

<!-- Written by `callcentre config-reference --out {DOCUMENT}` from the settings model,
crm/settings.py: edit the docstring under a setting there, not this file.
tests/test_config_reference.py fails when the two differ. -->

Every setting is an environment variable (or a line `NAME=value` of a `.env` file in the
server's working directory; the environment wins). A bad value stops start-up with a message
naming the variable. Secrets (`SecretStr` below) are never written to logs; in production keep
them in a file only the service reads (`deploy/callcentre.env`, loaded by the systemd units'
`EnvironmentFile=`).

"""


class UndescribedSetting(Exception):
    """A setting without a docstring: the reference would have a blank line for it."""


def variable(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def _unoptional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True); anything else → (it, False)."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _parsed_by_validator(field: FieldInfo) -> bool:
    """A list written as plain text (`NoDecode`), not JSON: the setting's validator reads it."""
    return any(item is NoDecode or isinstance(item, NoDecode) for item in field.metadata)


def _kind(field: FieldInfo) -> str:
    """What the variable accepts, in an operator's words."""
    annotation, optional = _unoptional(field.annotation)
    custom_text = _parsed_by_validator(field)
    origin = get_origin(annotation)
    if origin is Literal:
        kind = " or ".join(f"`{choice}`" for choice in get_args(annotation))
    elif annotation is bool:
        kind = "`true` or `false`"
    elif annotation is int:
        kind = "integer"
    elif annotation is float:
        kind = "number"
    elif annotation is Path:
        kind = "path"
    elif annotation is SecretStr:
        kind = "secret"
    elif custom_text:  # parsed by the setting's own validator; its description says how
        kind = "text"
    elif origin is list:
        kind = "JSON list"
    elif origin is dict:
        kind = "JSON object"
    else:
        kind = "text"
    limits = _limits(field, unit="item" if origin in (list, dict) else "character")
    if limits:
        kind += f" ({limits})"
    return kind + (", or unset" if optional else "")


def _limits(field: FieldInfo, *, unit: str) -> str:
    words = []
    for item in field.metadata:
        if isinstance(item, Ge):
            words.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            words.append(f"> {item.gt}")
        elif isinstance(item, Le):
            words.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            words.append(f"< {item.lt}")
        elif isinstance(item, MinLen):
            words.append(f"at least {item.min_length} {unit}{'s' * (item.min_length != 1)}")
        elif isinstance(item, MaxLen):
            words.append(f"at most {item.max_length} {unit}{'s' * (item.max_length != 1)}")
        elif getattr(item, "pattern", None):
            words.append(f"matching `{item.pattern}`")
    return ", ".join(words)


def _plain(value: Any) -> Any:
    """Whole numbers without their `.0`, tuples as lists: as an operator would write them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _shown(value: Any, *, custom_text: bool) -> str:
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, list | tuple | dict):
        if not value:
            return "unset"
        if custom_text:
            return f"`{','.join(str(item) for item in _plain(value))}`"
        return f"`{json.dumps(_plain(value), ensure_ascii=False, separators=(',', ':'))}`"
    return f"`{value}`"


def default_text(field: FieldInfo) -> str:
    """The default as an operator would write it. A default computed on the machine (the CPU
    count) or held in another form than it is written says so in its `shown_default`."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        shown = str(extra["shown_default"])
        return shown if " " in shown else f"`{shown}`"
    if field.is_required():
        return "required"
    custom_text = _parsed_by_validator(field)
    return _shown(
        field.get_default(call_default_factory=True, validated_data={}), custom_text=custom_text
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(model: type[BaseSettings] = Settings) -> str:
    """docs/configuration.md as the settings model describes it now."""
    rows = ["| variable | default | accepts | what it does |", "|---|---|---|---|"]
    missing = []
    for name, field in model.model_fields.items():
        if not (field.description or "").strip():
            missing.append(variable(name))
            continue
        rows.append(
            f"| `{variable(name)}` | {_cell(default_text(field))} | {_cell(_kind(field))} "
            f"| {_cell(field.description or '')} |"
        )
    if missing:
        raise UndescribedSetting(
            f"{', '.join(missing)}: no description. Write a docstring under the setting in "
            f"crm/settings.py, then `callcentre config-reference --out {DOCUMENT}`."
        )
    return HEADER + "\n".join(rows) + "\n"
