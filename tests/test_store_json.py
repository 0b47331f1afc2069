"""Stored JSON keeps every number exact: a payload is re-mapped from its stored text."""

from __future__ import annotations

import json
from decimal import Decimal

from connector.store.db import json_dumps, json_loads


def test_a_decimal_a_float_cannot_carry_is_stored_with_its_own_digits() -> None:
    value = {"rate": Decimal("0.1234567890123456789012345"), "neg": Decimal("-12345678901234567.89"),
             "tiny": Decimal("1.2345678901234567890E-10")}
    text = json_dumps(value)
    assert text == ('{"neg":-12345678901234567.89,"rate":0.1234567890123456789012345,'
                    '"tiny":1.2345678901234567890E-10}')
    assert json_loads(text) == value


def test_ordinary_numbers_and_strings_are_written_as_before() -> None:
    value = {"amount": Decimal("108000"), "rate": Decimal("0.15"), "text": "\x00exact-decimal\x00",
             "list": [Decimal("2.5"), 3]}
    text = json_dumps(value)
    assert text == '{"amount":108000,"list":[2.5,3],"rate":0.15,"text":"\\u0000exact-decimal\\u0000"}'
    assert json.loads(text, parse_float=Decimal) == value
