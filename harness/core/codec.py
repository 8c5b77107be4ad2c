"""Dataclasses to and from JSON, driven by their type hints (pure, no I/O).

Fields equal to their default are left out. A value whose class is a subclass of the
declared one (a Middlebox where a Host is declared) carries its class name in "class".
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _subclasses(cls: type) -> dict[str, type]:
    out: dict[str, type] = {}
    todo: list[type] = [cls]
    while todo:
        sub: type
        for sub in todo.pop().__subclasses__():
            out[sub.__name__] = sub
            todo.append(sub)
    return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def encode(value: Any, tp: Any = Any) -> Any:
    """A JSON-ready value for `value`, declared as `tp`."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        hints = _hints(cls)
        out: dict[str, Any] = {}
        if isinstance(tp, type) and cls is not tp:
            out["class"] = cls.__name__
        for f in dataclasses.fields(cls):
            v = getattr(value, f.name)
            if f.init and v != _default(f):
                out[f.name] = encode(v, hints[f.name])
        return out
    args = typing.get_args(tp)
    if isinstance(value, dict):
        vt = args[1] if len(args) == 2 else Any
        return {str(k): encode(v, vt) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if args and args[-1] is not Ellipsis and len(args) == len(value) and typing.get_origin(tp) is tuple:
            return [encode(v, t) for v, t in zip(value, args)]
        et = args[0] if args else Any
        return [encode(v, et) for v in value]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return encode(value, next((a for a in args if a is not type(None)), Any))
    return value


def decode(data: Any, tp: Any) -> Any:
    """The value of type `tp` that `encode` wrote as `data`."""
    if tp is Any or data is None:
        return data
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return decode(data, real[0]) if len(real) == 1 else data
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(v, args[0]) for v in data)
        return tuple(decode(v, t) for v, t in zip(data, args)) if args else tuple(data)
    if origin is list:
        return [decode(v, args[0] if args else Any) for v in data]
    if origin is dict:
        return {k: decode(v, args[1] if args else Any) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ValueError(f"{tp.__name__}: expected an object, got {type(data).__name__}")
        cls: type = tp
        if "class" in data and data["class"] != tp.__name__:
            sub = _subclasses(tp).get(data["class"])
            if sub is None:
                raise ValueError(f"unknown {tp.__name__} class {data['class']!r}")
            cls = sub
        hints = _hints(cls)
        kw = {f.name: decode(data[f.name], hints[f.name]) for f in dataclasses.fields(cls) if f.init and f.name in data}
        return cls(**kw)
    if tp is float and isinstance(data, int):
        return float(data)
    return data
