"""Reading compressed sources: gzip members, padding, truncation, corruption, zip members."""

from __future__ import annotations

import gzip
import zipfile

import pytest

from simlab.errors import DataError
from simlab.io._source import read_bytes

TEXT = b"id,price\n1,2.5\n" * 500


def test_gzip_members_and_zero_padding(tmp_path):
    path = tmp_path / "m.csv.gz"
    path.write_bytes(gzip.compress(TEXT) + gzip.compress(b"2,3.5\n") + b"\0" * 8)
    assert read_bytes(path).tobytes() == TEXT + b"2,3.5\n"


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.6, 0.95])
def test_truncated_gzip_is_named(tmp_path, keep):
    data = gzip.compress(TEXT)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(data[: max(1, int(keep * len(data)))])
    with pytest.raises(DataError, match=r"t\.csv\.gz: the gzip stream is truncated or corrupt"):
        read_bytes(path)


def test_corrupt_gzip_fails_its_checksum(tmp_path):
    data = bytearray(gzip.compress(TEXT))
    data[-6] ^= 0xFF  # inside the CRC-32 of the trailer
    path = tmp_path / "c.csv.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_bytes(path)
    (tmp_path / "e.csv.gz").write_bytes(b"")
    with pytest.raises(DataError, match="the gzip file is empty"):
        read_bytes(tmp_path / "e.csv.gz")


def test_zip_members(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", TEXT)
    assert read_bytes(path).tobytes() == TEXT
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("b.csv", b"x")
    with pytest.raises(DataError, match="expected a zip holding one file; found 2"):
        read_bytes(path)
    assert read_bytes(path, member="b.csv").tobytes() == b"x"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_bytes(path)
