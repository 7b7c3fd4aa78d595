"""A str Enum that prints as its value, on every Python jitwarm runs on.

``enum.StrEnum`` is Python 3.11+; a plain ``class X(str, Enum)`` formats as ``X.MEMBER`` in
f-strings on 3.11, so a value moved from a str field to an enum would change every message
and path built from it. Members compare equal to (and hash as) their string values."""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
