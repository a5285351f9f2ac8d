"""ManifestIndex and PositionSet: Complete's manifest on disk and its checkpoint bitmaps."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.manifest_index import ManifestIndex, PositionSet

ENTRY = ManifestEntry(
    custom_id="",
    source_key="",
    version_id=None,
    etag="e",
    profile="default",
    error_key="results/default/x.error.json",
)


def _lines(n: int) -> list[str]:
    return [
        replace(ENTRY, custom_id=f"doc-{i:06d}", source_key=f"inbox/default/été {i}.txt").to_json()
        for i in range(n)
    ]


def test_entries_are_found_by_custom_id_and_position(tmp_path: Path) -> None:
    with ManifestIndex([*_lines(2500), "", "  "], directory=str(tmp_path)) as index:
        assert len(index) == 2500
        position, entry = index.get("doc-001234") or (None, None)
        assert position == 1234 and entry is not None and entry.source_key == "inbox/default/été 1234.txt"
        assert index.at(7).custom_id == "doc-000007"
        assert index.get("doc-999999") is None
        assert [p for p, _ in index.entries()] == list(range(2500))
        with pytest.raises(IndexError):
            index.at(2500)


def test_the_file_is_removed_on_close(tmp_path: Path) -> None:
    index = ManifestIndex(_lines(3), directory=str(tmp_path))
    assert len(os.listdir(tmp_path)) == 1
    index.close()
    assert os.listdir(tmp_path) == []


def test_a_repeated_custom_id_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="UNIQUE"):
        ManifestIndex(_lines(3) + _lines(1), directory=str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_position_set_round_trips_through_text() -> None:
    positions = PositionSet(100_003)
    for p in (0, 7, 8, 99_999, 100_002, 7):
        positions.add(p)
    assert len(positions) == 5 and 7 in positions and 6 not in positions and "7" not in positions
    restored = PositionSet.from_text(100_003, positions.to_text())
    assert list(restored) == [0, 7, 8, 99_999, 100_002] and len(restored) == 5
    assert len(positions.to_text()) < 200  # sparse bitmaps compress to almost nothing


def test_position_set_refuses_a_bitmap_of_another_size() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        PositionSet.from_text(10, PositionSet(100).to_text())
