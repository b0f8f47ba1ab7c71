"""Analysis defaults, documented with their sources.

These are constants read at call time (``settings.H3_RESOLUTION``), so a city deployment or a test can
override them by assigning to the module attribute, or per call through keyword arguments.
Deployment configuration (database URL, upload limits, secret key) does not live here: it is Flask
configuration in ``webmap``.
"""
from __future__ import annotations

#: Time zone assumed for timestamps written without a zone (WIB, UTC+7: Sumatra, Java, West and
#: Central Kalimantan).  Use ``Asia/Makassar`` (WITA) or ``Asia/Jayapura`` (WIT) for cities there.
DEFAULT_TIMEZONE = "Asia/Jakarta"

#: H3 resolution of the cell id stored with every measurement.  Resolution 9 cells are about
#: 0.1 km2 (edge ~174 m), fine enough for a kelurahan and coarse enough to collect several samples.
H3_RESOLUTION = 9

#: Points that fall in a gap between kelurahan polygons (the sliver gaps of simplified boundary
#: files) are given to the nearest kelurahan if it is at most this far away, in metres.
SLIVER_TOLERANCE_M = 50.0

#: Physically plausible signal ranges in dBm per technology (3GPP reporting ranges; see
#: shared DOMAIN notes).  Values outside are app sentinels ("unknown"), not measurements.
#: 4G/5G: RSRP, 3G: RSCP, 2G: RSSI.
SIGNAL_RANGE_DBM: dict[str, tuple[float, float]] = {
    "5G": (-140.0, -44.0),
    "4G": (-140.0, -44.0),
    "3G": (-120.0, -25.0),
    "2G": (-113.0, -51.0),
}

#: Sentinel values apps write for "unknown" (G-NetTrack: -24 for 3G, -200, -340, ...).  They are
#: rejected with this explicit reason even where they would fall inside a plausible range.
SIGNAL_SENTINELS_DBM: dict[str, frozenset[float]] = {
    "5G": frozenset({-200.0, -340.0, 0.0}),
    "4G": frozenset({-200.0, -340.0, 0.0}),
    "3G": frozenset({-24.0, -200.0, -340.0, 0.0}),
    "2G": frozenset({-200.0, -340.0, 0.0}),
}

#: A timestamp more than this many seconds after "now" is rejected as being in the future
#: (a small allowance for phone clocks that run ahead).
FUTURE_TOLERANCE_S = 300

#: Largest measurement file accepted, in bytes (the web layer may set a smaller limit).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024

#: A file is rejected as "latitude and longitude swapped" when fewer than this share of its rows
#: fall inside the city but at least this share would fall inside with the two columns exchanged.
SWAPPED_COORDINATE_SHARE = 0.5

#: Rows per database chunk during ingest (progress is reported per chunk; the whole file is still
#: one transaction).
INGEST_CHUNK_ROWS = 100_000
