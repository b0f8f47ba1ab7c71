"""Write the fictional demo city "Kota Pesisir Demo" (kode 99.71) into the data directory.

Usage::

    .venv/bin/python scripts/make_demo_city.py [--out-dir data/] [--seed 20240101]
                                               [--measurements 20000]

Writes ``boundaries/demo_99.71_kelurahan.geojson``, ``demo/facilities.geojson``,
``demo/measurements.csv`` and ``demo/population_100m.tif``.  The same seed always writes the same
bytes, so the files can be regenerated and compared.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, without installing the package
    sys.path.insert(0, str(ROOT))

from geo.demo import write_demo_city  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the demo city's files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "data",
                        help="data directory to write into (default: data/ of the repository)")
    parser.add_argument("--seed", type=int, default=20240101, help="seed of the city layout")
    parser.add_argument("--measurements", type=int, default=20_000,
                        help="number of measurement rows (default 20000)")
    args = parser.parse_args(argv)
    paths = write_demo_city(args.out_dir, seed=args.seed, n_measurements=args.measurements)
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
