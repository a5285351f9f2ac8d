"""A job's manifest on local disk, for Complete: looked up by custom_id, memory flat in N.

A manifest of 100,000 documents is about 100 MB as Python objects. Complete needs each entry
once, when its result line comes (in whatever order the API sends them), so the manifest is
streamed into an SQLite file in the function's /tmp and looked up by key; what stays in memory
is SQLite's page cache and two bitmaps of N bits (what is done, what is to be retried).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator

from batchdrop.domain.manifest import ManifestEntry

_INSERT_CHUNK = 1000
LOOKUP_CHUNK = 500  # under SQLite's limit on the parameters of one statement (999 before 3.32)
_CACHE_KIB = 4096


class ManifestIndex:
    """The entries of one manifest by position (line number) and by custom_id."""

    def __init__(self, lines: Iterable[str], directory: str | None = None) -> None:
        handle, self._path = tempfile.mkstemp(suffix=".sqlite", prefix="manifest-", dir=directory)
        os.close(handle)
        self._db = sqlite3.connect(self._path)
        try:
            # A scratch file: nothing to recover after a crash, so no journal and no fsync.
            self._db.executescript(
                f"""
                PRAGMA journal_mode = OFF;
                PRAGMA synchronous = OFF;
                PRAGMA cache_size = -{_CACHE_KIB};
                CREATE TABLE entries (
                    position INTEGER PRIMARY KEY,
                    custom_id TEXT NOT NULL UNIQUE,
                    line TEXT NOT NULL
                );
                """
            )
            self._size = self._load(lines)
        except BaseException:
            self.close()
            raise

    def _load(self, lines: Iterable[str]) -> int:
        size = 0
        chunk: list[tuple[int, str, str]] = []
        with self._db:
            for line in lines:
                if not line.strip():
                    continue
                chunk.append((size, json.loads(line)["custom_id"], line))
                size += 1
                if len(chunk) >= _INSERT_CHUNK:
                    self._db.executemany("INSERT INTO entries VALUES (?, ?, ?)", chunk)
                    chunk = []
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?)", chunk)
        return size

    def __len__(self) -> int:
        return self._size

    def get(self, custom_id: str) -> tuple[int, ManifestEntry] | None:
        """The entry with this custom_id and its position, or None."""
        return self.get_many([custom_id]).get(custom_id)

    def get_many(self, custom_ids: list[str]) -> dict[str, tuple[int, ManifestEntry]]:
        """The entries of these custom_ids (those found), in one query per LOOKUP_CHUNK ids.

        One query per result line would cost more than the lookup: each call into sqlite3
        gives up the GIL and must win it back from the threads writing results.
        """
        found: dict[str, tuple[int, ManifestEntry]] = {}
        for start in range(0, len(custom_ids), LOOKUP_CHUNK):
            chunk = custom_ids[start : start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT position, custom_id, line FROM entries WHERE custom_id IN ({marks})"  # noqa: S608 - only marks
            for position, custom_id, line in self._db.execute(query, chunk):
                found[custom_id] = (position, ManifestEntry.from_json(line))
        return found

    def at(self, position: int) -> ManifestEntry:
        row = self._db.execute("SELECT line FROM entries WHERE position = ?", (position,)).fetchone()
        if row is None:
            raise IndexError(position)
        return ManifestEntry.from_json(row[0])

    def entries(self) -> Iterator[tuple[int, ManifestEntry]]:
        """Every entry with its position, in manifest order, streamed."""
        for position, line in self._db.execute("SELECT position, line FROM entries ORDER BY position"):
            yield position, ManifestEntry.from_json(line)

    def close(self) -> None:
        self._db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    def __enter__(self) -> ManifestIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PositionSet:
    """A set of manifest positions as a bitmap: N/8 bytes, saved compressed in checkpoints."""

    def __init__(self, size: int, bits: bytes | None = None) -> None:
        self._bits = bytearray(bits) if bits is not None else bytearray((size + 7) // 8)
        if len(self._bits) != (size + 7) // 8:
            raise ValueError(f"a bitmap of {len(self._bits)} bytes does not fit {size} positions")
        self._count = sum(bin(byte).count("1") for byte in self._bits)

    def add(self, position: int) -> None:
        byte, bit = divmod(position, 8)
        if not self._bits[byte] >> bit & 1:
            self._bits[byte] |= 1 << bit
            self._count += 1

    def __contains__(self, position: object) -> bool:
        if not isinstance(position, int):
            return False
        byte, bit = divmod(position, 8)
        return bool(self._bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for byte_index, byte in enumerate(self._bits):
            if byte:
                for bit in range(8):
                    if byte >> bit & 1:
                        yield byte_index * 8 + bit

    def to_text(self) -> str:
        return base64.b64encode(zlib.compress(bytes(self._bits))).decode("ascii")

    @classmethod
    def from_text(cls, size: int, text: str) -> PositionSet:
        return cls(size, zlib.decompress(base64.b64decode(text)))
