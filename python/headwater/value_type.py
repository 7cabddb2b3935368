"""``ValueType``: the type of an entity's join key, as Feast names it."""

from __future__ import annotations

import enum

__all__ = ["ValueType"]


class ValueType(enum.Enum):
    """Feast's value types. Join keys may be ``INT32``, ``INT64``, ``STRING`` or ``BYTES``."""

    UNKNOWN = 0
    BYTES = 1
    STRING = 2
    INT32 = 3
    INT64 = 4
    DOUBLE = 5
    FLOAT = 6
    BOOL = 7
    UNIX_TIMESTAMP = 8
    BYTES_LIST = 11
    STRING_LIST = 12
    INT32_LIST = 13
    INT64_LIST = 14
    DOUBLE_LIST = 15
    FLOAT_LIST = 16
    BOOL_LIST = 17
    UNIX_TIMESTAMP_LIST = 18
    NULL = 19
