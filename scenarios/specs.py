"""Scenario specs: frozen pydantic models that reject unknown keys, read from TOML files or the shipped library.

Every spec of the ``scenarios`` package (AMM sweeps, forecasting runs, ...) is a tree of :class:`StrictModel`
tables. :func:`read_spec` resolves a path or a name of ``scenarios/library/``, reads the TOML and validates it; the
first problem becomes one :class:`~simlab.errors.ParameterError` sentence naming the field, e.g.
"AMM sweep spec x.toml: `sweep.paths` Input should be greater than or equal to 1; got 0".
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from simlab.errors import DataError, ParameterError

LIBRARY = Path(__file__).resolve().parent / "library"
Spec = TypeVar("Spec", bound=BaseModel)


class StrictModel(BaseModel):
    """A frozen spec table that rejects unknown keys (a typo names the field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_spec_data(model: type[Spec], data: dict[str, Any], source: str) -> Spec:
    """Validate ``data`` as ``model``; the first problem becomes one ParameterError sentence naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        raise ParameterError(f"{source}: `{where}` {error['msg']}; got {error.get('input')!r}") from None


def read_spec(model: type[Spec], path: str | Path, kind: str) -> tuple[Spec, str]:
    """Read a ``kind`` spec from a TOML file, or from ``scenarios/library/`` by name; return it and its text."""
    path = Path(path)
    if not path.exists() and not path.suffix:
        path = LIBRARY / f"{path.name}.toml"
    if not path.is_file():
        raise DataError(f"{kind} spec {str(path)!r}: no such file")
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{kind} spec {path}: not valid TOML: {exc}") from exc
    return parse_spec_data(model, data, f"{kind} spec {path.name}"), text
