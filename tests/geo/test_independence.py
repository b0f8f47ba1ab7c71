"""geo/ must be usable without the web layer."""
import subprocess
import sys

from tests.conftest import ROOT


def test_geo_does_not_import_flask_or_folium():
    code = (
        "import sys, pkgutil, importlib, geo\n"
        "for m in pkgutil.iter_modules(geo.__path__): importlib.import_module('geo.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'flask', 'folium', 'webmap'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
