"""CSV cells that a spreadsheet will never run as a formula (CSV / formula injection).

A field team's rejected rows, exports and templates are opened by planners in Excel or LibreOffice.
A cell whose text begins with ``=``, ``+``, ``-`` or ``@`` is read there as a formula
(``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``), and a leading tab or carriage return hides such a
start.  Following the OWASP "CSV Injection" rule, such a text cell is written with a single quote
``'`` in front: the spreadsheet then shows the text and runs nothing.

The rule applied by :func:`neutralize_formula` (and column-wise by :func:`neutralize_frame`):

* only text cells are changed; numbers, booleans, dates and missing values are written as they are;
* a text cell is prefixed with ``'`` when its first character is ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return, or their full-width forms ``＝ ＋ － ＠`` (which some spreadsheets also
  accept as the start of a formula);
* except when the whole text is a plain decimal number (``-95.5``, ``+62``, ``-1e-3``, ``-95,5``):
  a spreadsheet reads it as that number, which is harmless, and field teams must not find their
  signal values quoted.

The text written is therefore the original text with at most one added leading ``'``; the uploaded
file itself is kept untouched in the archive under its SHA-256 (see ``docs/security.md``).
"""
from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["FORMULA_PREFIX", "FORMULA_TRIGGERS", "neutralize_formula", "neutralize_frame"]

#: First characters that make a spreadsheet treat a cell as a formula (OWASP, plus the full-width
#: forms of the four operators).
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d",
                                     "\uff20")

#: What is put in front of a risky cell.
FORMULA_PREFIX = "'"

#: A plain decimal number, optionally signed, with a decimal point or comma and an exponent.
_PLAIN_NUMBER = r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?"
_PLAIN_NUMBER_RE = re.compile(_PLAIN_NUMBER)


def neutralize_formula(value: Any) -> Any:
    """Return ``value`` safe to write into a CSV cell that a spreadsheet will open.

    Parameters
    ----------
    value
        Any cell value.  Only ``str`` values are ever changed.

    Returns
    -------
    Any
        ``"'" + value`` for a text that a spreadsheet would run as a formula (see the module
        docstring for the exact rule), else ``value`` itself.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_TRIGGERS):
        return value
    if _PLAIN_NUMBER_RE.fullmatch(value):
        return value
    return FORMULA_PREFIX + value


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and column names are neutralised.

    Column by column, vectorised: numeric, boolean and datetime columns are returned as they are,
    and in text (object or string) columns only the risky cells change
    (:func:`neutralize_formula`).  Column names are the header row of the CSV, and come from the
    uploaded file's header in the rejected-rows CSV, so they get the same rule.
    """
    safe = frame.copy(deep=False)
    safe.columns = [neutralize_formula(name) for name in frame.columns]
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            safe.isetitem(position, neutralize_series(column))
    return safe


def neutralize_series(values: pd.Series) -> pd.Series:
    """Return ``values`` with its risky text cells prefixed (:func:`neutralize_formula`)."""
    try:
        text = values.str  # text cells only: any other value gives NA below
    except AttributeError:  # an object column without any text (numbers, geometries...)
        return values
    starts = text.startswith(FORMULA_TRIGGERS).fillna(False).astype(bool)
    if not starts.any():
        return values
    risky = starts & ~values[starts].str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool) \
        .reindex(values.index, fill_value=False)
    if not risky.any():
        return values
    safe = values.copy()
    safe[risky] = FORMULA_PREFIX + values[risky].astype(str)
    return safe
