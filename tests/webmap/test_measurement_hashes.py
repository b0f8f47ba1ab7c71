"""The content hash that identifies an observation (``measurement.row_hash``).

Stored hashes must not change between versions: re-ingesting a file must find the rows an
earlier version stored.  The definition is pandas' ``hash_pandas_object`` of the hashed columns.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.measurements import MeasurementReader
from webmap.ingest import _HASH_COLUMNS, measurement_hashes

CSV = """latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,device_id
1.658196,101.459628,2024-01-01T07:00:01+07:00,Telkomsel,4G,-102,false,dev-035
1.6000810000001,101.517577,2024-01-01T07:00:45+07:00,Indosat,5G,-81,false,
1.6000810000001,101.517577,2024-01-01T07:00:45+07:00,Indosat,5G,-81,false,
1.61,101.52,2024-01-01T07:01:00+07:00,XL,,,true,dev-002
1.62,101.53,2024-01-01T07:02:00+07:00,Telkomsel,3G,-90.5,false,dev-035
"""


def _chunk(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text(CSV)
    reader = MeasurementReader(path)
    (chunk,) = list(reader.chunks())
    return chunk


def _reference(chunk, rows: np.ndarray, city: str) -> np.ndarray:
    """The definition: hash_pandas_object of the rounded columns plus the city."""
    frame = chunk.frame().iloc[rows]
    key = frame[_HASH_COLUMNS].copy()
    key["latitude"] = key["latitude"].round(6)
    key["longitude"] = key["longitude"].round(6)
    key["device_id"] = key["device_id"].fillna("")
    key["city"] = city
    return pd.util.hash_pandas_object(key, index=False).to_numpy().view(np.int64)


def test_hashes_follow_the_definition(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path)
    for rows in (np.arange(len(chunk)), np.array([4, 1, 3]), np.zeros(0, dtype=np.int64)):
        assert measurement_hashes(chunk, rows, "14.72").tolist() == \
            _reference(chunk, rows, "14.72").tolist()


def test_hashes_are_stable_across_versions(tmp_path: Path) -> None:
    """Values computed by the version before this one: stored rows keep matching."""
    hashes = measurement_hashes(_chunk(tmp_path), np.arange(5), "14.72")
    assert hashes[1] == hashes[2]  # the same observation; coordinates rounded to 1e-6 degrees
    assert len(set(hashes.tolist())) == 4
    assert hashes.tolist() == PINNED


def test_hashes_depend_on_city(tmp_path: Path) -> None:
    chunk = _chunk(tmp_path)
    rows = np.arange(len(chunk))
    assert not np.any(measurement_hashes(chunk, rows, "14.72") ==
                      measurement_hashes(chunk, rows, "61.72"))


PINNED = [-3359530408998903721, -4895762696571081753, -4895762696571081753,
          -8066013307447877793, 516217666492601384]


def test_seen_hashes_keep_the_first_of_equal_ones_across_chunks() -> None:
    """Repeats within a file: the first occurrence is kept, in its chunk or an earlier one."""
    from webmap.ingest import _SeenHashes

    rng = np.random.default_rng(7)
    for _ in range(300):
        seen, reference = _SeenHashes(), set()
        for _ in range(int(rng.integers(1, 5))):
            hashes = rng.integers(0, int(rng.integers(1, 50)), int(rng.integers(0, 40)))
            expected = []
            for value in hashes.tolist():
                expected.append(value not in reference)
                reference.add(value)
            assert seen.first_seen(hashes.astype(np.int64)).tolist() == expected


def test_seen_hashes_over_the_whole_hash_range() -> None:
    """Full 64-bit hashes (the bitmap of top bits mostly says "new"): repeats across and within
    chunks, a chunk of repeats only, and 0 and the extremes are still found exactly."""
    from webmap.ingest import _SeenHashes

    rng = np.random.default_rng(11)
    chunks = [rng.integers(-2**63, 2**63 - 1, 5_000, dtype=np.int64, endpoint=True)
              for _ in range(6)]
    chunks[2][:300] = chunks[0][:300]                       # repeats of an earlier chunk
    chunks[3][100:150] = chunks[3][:50]                     # repeats within the chunk
    chunks[4][:3] = [0, -2**63, 2**63 - 1]
    chunks[5] = np.concatenate([chunks[1][:40], chunks[4][:3]])  # nothing new at all
    seen, reference = _SeenHashes(), set()
    for hashes in chunks:
        expected = []
        for value in hashes.tolist():
            expected.append(value not in reference)
            reference.add(value)
        assert seen.first_seen(hashes).tolist() == expected
