"""The shared corruption helper does what the corrupted-file properties assume."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.corruption import ACTIONS, corrupt, corruptions


def test_each_action():
    assert corrupt(b"abcd", "truncate", 0.5, b"X") == b"ab"
    assert corrupt(b"abcd", "flip", 0.25, b"X") == b"a\x9dcd"
    assert corrupt(b"abcd", "flip", 0.25, b"X", mask=0x20) == b"aBcd"
    assert corrupt(b"abcd", "replace", 0.5, b"XYZ") == b"abXYZ"
    assert corrupt(b"a,b,c", "delete_field", 0.0, b"X") == b"a,c"
    assert corrupt(b"a,b,c", "delete_field", 0.5, b"X") == b"a,b,c"  # no second comma after it
    assert corrupt(b"abc", "insert_text", 1 / 3, b"X") == b"aXbc"
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(b"abc", "shuffle", 0.0, b"X")


@given(corruption=corruptions)
def test_empty_and_end(corruption):
    action, position, junk = corruption
    assert corrupt(b"", action, position, junk) in (b"", junk)
    assert corrupt(b"ab", action, 1 - 1e-17, junk).startswith(b"a")  # rounds to the end: still safe
    assert action in ACTIONS
