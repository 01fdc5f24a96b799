"""The configuration reference as commented YAML, generated from the types (never out of date)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from vigilo.config.model import Settings


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        try:
            return field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return None
    return None if field.default is PydanticUndefined else field.default


def _scalar(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "null  # secret"
    return json.dumps(to_jsonable_python(value), ensure_ascii=False)


def _lines(model: type[BaseModel], indent: int) -> list[str]:
    lines = []
    pad = "  " * indent
    for field_name, field in model.model_fields.items():
        name = field.alias or field_name  # e.g. `except`, a Python keyword, is the alias of `except_`
        value = _default(field)
        comment = f"  # {field.description}" if field.description else ""
        nested = value if isinstance(value, BaseModel) else None
        if nested is not None and type(nested).model_fields:
            doc = (type(nested).__doc__ or "").strip().splitlines()
            header = f"  # {doc[0]}" if doc and not comment else comment
            lines.append(f"{pad}{name}:{header}")
            lines.extend(_lines(type(nested), indent + 1))
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}{comment}")
    return lines


def default_yaml() -> str:
    """Every setting with its default and description, as a YAML file a user can start from."""
    return "\n".join(_lines(Settings, 0)) + "\n"
