"""The operator filter of the city map and the dashboard lists a bounded number of operators."""
from __future__ import annotations

import re

import pytest

from tests.webmap.conftest import make_app, signed_in


def _rows(operators: dict[str, int]) -> list[str]:
    """Measurement lines in kelurahan A: ``count`` rows (distinct days) per operator name."""
    return [f"1.6050,101.4050,2024-03-{day + 1:02d}T{i // 60:02d}:{i % 60:02d}:00,{name},4G,-90,"
            f"false,dev-{i}"
            for i, (name, count) in enumerate(operators.items()) for day in range(count)]


@pytest.fixture
def many_operators(db_url, city_file, tmp_path):
    """35 operators: op-00 measured 12 times, op-01 11 times ... op-11 once, op-12..34 once."""
    from webmap.db import dispose_engine

    counts = {f"op-{i:02d}": max(12 - i, 1) for i in range(35)}
    app = make_app(db_url, city_file, tmp_path, rows=_rows(counts), FILTER_MAX_OPERATORS=5)
    yield app
    dispose_engine(app)


def _listed(page: str) -> tuple[list[str], list[str]]:
    """Operator names offered as ``<select>`` options and as ``<datalist>`` suggestions."""
    select = re.search(r'<select name="operator">(.*?)</select>', page, re.S)
    datalist = re.search(r'<datalist id="operator-list">(.*?)</datalist>', page, re.S)
    return ([v for v in re.findall(r'<option value="([^"]*)"', select.group(1)) if v]
            if select else [],
            re.findall(r'<option value="([^"]*)"', datalist.group(1)) if datalist else [])


@pytest.mark.parametrize("path", ["/peta", "/dasbor"])
def test_filter_lists_only_the_most_measured_operators(many_operators, path):
    client = signed_in(many_operators, "rina", "perencana")
    page = client.get(path).get_data(as_text=True)
    options, suggestions = _listed(page)
    assert options == []  # a text field, not a 35-option list
    assert suggestions == ["op-00", "op-01", "op-02", "op-03", "op-04"]
    assert 'name="operator"' in page and 'id="operator-hint"' in page


def test_an_operator_not_listed_can_still_be_typed(many_operators):
    client = signed_in(many_operators, "rina", "perencana")
    response = client.get("/peta?operator=op-30")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "operator op-30" in page and 'value="op-30"' in page  # applied and kept in the field


def test_few_operators_keep_the_list(db_url, city_file, tmp_path):
    from webmap.db import dispose_engine

    app = make_app(db_url, city_file, tmp_path, rows=_rows({"Telkomsel": 2, "XL": 1}))
    try:
        page = signed_in(app, "rina", "perencana").get("/peta?operator=XL").get_data(
            as_text=True)
        options, suggestions = _listed(page)
        assert options == ["Telkomsel", "XL"] and suggestions == []
        assert '<option value="XL" selected>' in page
    finally:
        dispose_engine(app)


def test_the_default_bounds_a_city_with_a_thousand_operator_names(db_url, city_file, tmp_path):
    from webmap.db import dispose_engine
    from webmap.overviews import FILTER_MAX_OPERATORS

    app = make_app(db_url, city_file, tmp_path,
                   rows=_rows({f"operator-{i:04d}": 1 for i in range(1000)}
                              | {"Telkomsel": 3}))
    try:
        page = signed_in(app, "rina", "perencana").get("/peta").get_data(as_text=True)
        options, suggestions = _listed(page)
        assert options == [] and len(suggestions) == FILTER_MAX_OPERATORS
        assert "Telkomsel" in suggestions
    finally:
        dispose_engine(app)
