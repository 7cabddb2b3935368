"""Feature types, named as in ``feast.types``: ``Int32``, ``Int64``, ``Float32``, ``Float64``,
``String``, ``Bytes``, ``Bool``, ``UnixTimestamp`` and ``Array(T)``."""

from __future__ import annotations

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

_BY_NAME = {t.name: t for t in (Int32, Int64, Float32, Float64, String, Bytes, Bool, UnixTimestamp)}


def from_name(name: str) -> FeastType:
    """The type a dtype name denotes: ``"Float32"``, ``"Array(Int64)"``."""
    if name.startswith("Array(") and name.endswith(")"):
        return Array(_BY_NAME[name[6:-1]])  # type: ignore[arg-type]
    return _BY_NAME[name]
