"""YAML files an operator writes (scenarios, plans, topologies): read safely, validated by a
pydantic model, and every error named by file, line, key path and what was expected."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from harness.core.inputs import InputError, read_text


class SpecError(InputError):
    """A file that does not fit its schema; str() is the whole message (exit 2)."""


class Strict(BaseModel):
    """A mapping with known keys only; an unknown key is named with the valid ones."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            got = "nothing" if data is None else type(data).__name__
            raise PydanticCustomError("mapping", "expected a mapping, got {got}", {"got": got})
        valid = [f.alias or name for name, f in cls.model_fields.items()]
        for k in data:
            if k not in valid:
                near = difflib.get_close_matches(str(k), valid, n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key{hint}; valid keys: {valid}",
                    {"key": str(k), "valid": ", ".join(valid), "hint": hint},
                )
        return data


KeyPath = tuple[str | int, ...]  # keys and list indexes from the top of a file ("clients", 0, "impl")


class Source:
    """A YAML file's data with the line of every key path, for messages."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.text = read_text(path, what)
        try:
            node = yaml.compose(self.text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(self.text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise SpecError(f"{path}{at}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
        self.lines: dict[KeyPath, int] = {}
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, at: KeyPath) -> None:
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                self._index(v, (*at, k.value))
                self.lines[(*at, k.value)] = k.start_mark.line + 1  # the key's line, not its value's
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._index(v, (*at, i))

    @property
    def story(self) -> str:
        return "\n".join(line[1:].strip() for line in self.text.splitlines()[:3] if line.startswith("#"))

    def _raw(self, at: KeyPath) -> Any:
        d = self.data
        for k in at:
            try:
                d = d[k]
            except (KeyError, IndexError, TypeError):
                return None
        return d

    def where(self, loc: KeyPath) -> tuple[str, int | None]:
        """('server.tls[0]', line) for a key path; list indexes pydantic added to a single
        value are left out."""
        text = ""
        for i, k in enumerate(loc):
            if isinstance(k, int):
                if isinstance(self._raw(tuple(loc[:i])), list):
                    text += f"[{k}]"
            else:
                text += f".{k}" if text else str(k)
        line = next((self.lines[tuple(loc[:n])] for n in range(len(loc), -1, -1) if tuple(loc[:n]) in self.lines), None)
        return text or "(top level)", line

    def error(self, loc: KeyPath, message: str) -> SpecError:
        return SpecError(self.line(loc, message))

    def line(self, loc: KeyPath, message: str) -> str:
        where, line = self.where(loc)
        return f"{self.path}" + (f", line {line}" if line else "") + f": {where}: {message}"

    def validate(self, model: type[BaseModel], data: Any = None) -> BaseModel:
        """The file's data (or `data`, derived from it) as `model`; errors name this file's lines."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as e:
            raise SpecError("\n".join(self.line(*explain(err)) for err in e.errors())) from None


def explain(err: Any) -> tuple[KeyPath, str]:
    """(key path, message) of one pydantic error, in the harness's words."""
    loc, kind, ctx, got = tuple(err["loc"]), err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "unknown_key":
        return (*loc, ctx["key"]), err["msg"]
    if kind == "literal_error":
        valid = ", ".join(re.findall(r"'([^']*)'", ctx.get("expected", "")))
        return loc, f"expected one of {valid}, got {got!r}"
    if kind == "missing":
        return loc, "missing (required)"
    if kind == "too_short":
        return loc, f"expected at least one value, got {got!r}"
    if kind in ("list_type", "string_type"):
        return loc, f"expected {'a list' if kind == 'list_type' else 'text'}, got {got!r}"
    return loc, str(err["msg"])
