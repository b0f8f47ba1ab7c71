"""Loading the generated demo city ("Kota Pesisir Demo", 99.71) into a database.

The files come from ``scripts/make_demo_city.py`` (our own generator, no third-party data); they
are regenerated here when missing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from geo.demo import CITY_CODE, write_demo_city
from webmap.analysis import import_population
from webmap.ingest import IngestOptions, import_boundaries, import_facilities, ingest_measurements

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def demo_files(data_dir: Path = DATA_DIR) -> dict[str, Path]:
    """Paths of the demo city's files, generating them when any is missing."""
    paths = {"boundaries": data_dir / "boundaries" / f"demo_{CITY_CODE}_kelurahan.geojson",
             "facilities": data_dir / "demo" / "facilities.geojson",
             "measurements": data_dir / "demo" / "measurements.csv",
             "population": data_dir / "demo" / "population_100m.tif"}
    if not all(path.exists() for path in paths.values()):
        paths = write_demo_city(data_dir)
    return paths


def load_demo_city(engine: Engine, options: IngestOptions, *, data_dir: Path = DATA_DIR
                   ) -> dict[str, Any]:
    """Import the demo city's boundaries, facilities and measurements; return the three reports."""
    files = demo_files(data_dir)
    boundaries = import_boundaries(engine, files["boundaries"], options)
    options.city_kode = CITY_CODE
    facilities = import_facilities(engine, files["facilities"], options)
    measurements = ingest_measurements(engine, files["measurements"], options)
    population = import_population(engine, files["population"], CITY_CODE,
                                   archive_dir=options.archive_dir,
                                   uploaded_by=options.uploaded_by)
    message = (f"Demo city {CITY_CODE} loaded: {boundaries['kelurahan']} kelurahan, "
               f"{facilities['accepted']} facilities, {measurements['accepted']} measurements, "
               f"population {population['population_total']:,.0f}.")
    return {"boundaries": boundaries, "facilities": facilities, "measurements": measurements,
            "population": population, "message": message}
