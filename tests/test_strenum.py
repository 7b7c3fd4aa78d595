from __future__ import annotations

import json

from jitwarm.strenum import StrEnum


class Colour(StrEnum):
    RED = "red"


def test_str_enum_prints_compares_and_serializes_as_its_value() -> None:
    assert f"{Colour.RED}" == str(Colour.RED) == "%s" % Colour.RED == "red"  # noqa: UP031 (logging formats so)
    assert f"[{Colour.RED:>5}]" == "[  red]"
    assert Colour.RED == "red" and {"red": 1}[Colour.RED] == 1
    assert json.dumps({"c": Colour.RED}) == '{"c": "red"}'
    assert Colour("red") is Colour.RED
