"""Feature types, named as in ``feast.types``: ``Int32``, ``Int64``, ``Float32``, ``Float64``,
``String``, ``Bytes``, ``Bool``, ``UnixTimestamp`` and ``Array(T)``; and ``Json``, ``Map`` and
``Struct({...})``, which Headwater holds alike as JSON documents (docs/definitions.md)."""

from __future__ import annotations

from typing import Dict

__all__ = [
    "FeastType",
    "PrimitiveFeastType",
    "Array",
    "Int32",
    "Int64",
    "Float32",
    "Float64",
    "String",
    "Bytes",
    "Bool",
    "UnixTimestamp",
    "Json",
    "Map",
    "Struct",
]


class FeastType:
    """A feature's type. ``str(t)`` is the dtype name definition files use."""

    name: str

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FeastType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class PrimitiveFeastType(FeastType):
    """A scalar feature type."""


class Array(FeastType):
    """A list of one primitive type: ``Array(Int64)``."""

    base_type: PrimitiveFeastType

    def __init__(self, base_type: PrimitiveFeastType) -> None:
        if not isinstance(base_type, PrimitiveFeastType):
            raise TypeError(f"Array() takes a primitive type such as Int64, not {base_type!r}")
        super().__init__(f"Array({base_type.name})")
        self.base_type = base_type


Int32 = PrimitiveFeastType("Int32")
Int64 = PrimitiveFeastType("Int64")
Float32 = PrimitiveFeastType("Float32")
Float64 = PrimitiveFeastType("Float64")
String = PrimitiveFeastType("String")
Bytes = PrimitiveFeastType("Bytes")
Bool = PrimitiveFeastType("Bool")
UnixTimestamp = PrimitiveFeastType("UnixTimestamp")

Json = PrimitiveFeastType("Json")
# Feast's Map (string keys) and Struct (named fields) are documents too: a column of Arrow
# structs or maps, or of JSON text, declared as either reads as JSON.
Map = PrimitiveFeastType("Json")


def Struct(fields: Dict[str, FeastType]) -> PrimitiveFeastType:  # noqa: N802 (Feast's name)
    """Feast's ``Struct({"name": String, "age": Int64})``: a document with those fields."""
    if not isinstance(fields, dict) or not all(isinstance(k, str) and isinstance(v, FeastType)
                                               for k, v in fields.items()):
        raise TypeError("Struct() takes a dict of field name to type, such as {'age': Int64}")
    return Json


_BY_NAME = {t.name: t for t in (Int32, Int64, Float32, Float64, String, Bytes, Bool, UnixTimestamp, Json)}


def from_name(name: str) -> FeastType:
    """The type a dtype name denotes: ``"Float32"``, ``"Array(Int64)"``."""
    if name.startswith("Array(") and name.endswith(")"):
        return Array(_BY_NAME[name[6:-1]])  # type: ignore[arg-type]
    return _BY_NAME[name]
