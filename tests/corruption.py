"""One corruption of a real file's bytes, for the "a corrupted file parses or raises SimlabError" properties."""

from __future__ import annotations

from hypothesis import strategies as st

ACTIONS = ("truncate", "flip", "replace", "delete_field", "insert_text")

# Text that parsers trip on (overflowing numbers, NaN, JSON literals, separators), beside arbitrary bytes.
TOKENS = (b"abc", b",", b"\n", b" ", b"-", b".", b"-1", b"1e5", b"NaN", b"null", b"true", b'"', b"]", b"\xff")
TOKENS += (b"9999999999999999999", b"99999999999999999999")


def corrupt(data: bytes, action: str, position: float, junk: bytes, *, mask: int = 0xFF) -> bytes:
    """Return ``data`` with one ``action`` applied at ``position`` (a fraction in [0, 1) of its length).

    truncate: cut there; flip: xor that byte with ``mask``; replace: overwrite ``len(junk)`` bytes with ``junk``;
    delete_field: drop from the next comma up to (not including) the one after it; insert_text: insert ``junk``.
    Empty data and actions with nothing to act on (flip at the end, no two commas left) leave it unchanged.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown corruption {action!r}")
    at = min(int(position * len(data)), len(data))
    if action == "truncate":
        return data[:at]
    if action == "flip":
        return data if at >= len(data) else data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]
    if action == "replace":
        return data[:at] + junk + data[at + len(junk) :]
    if action == "delete_field":
        comma = data.find(b",", at)
        end = data.find(b",", comma + 1) if comma >= 0 else -1
        return data if end < 0 else data[:comma] + data[end:]
    return data[:at] + junk + data[at:]


# (action, position, junk) for corrupt(data, *corruption).
corruptions = st.tuples(
    st.sampled_from(ACTIONS),
    st.floats(0, 1, exclude_max=True),
    st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from(TOKENS)),
)
