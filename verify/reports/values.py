"""How a JSON value is shown on a page: number formats and the kind of block or table cell
a value gets (the ``value`` and ``cell`` macros in ``templates/_macros.html`` draw them)."""

from __future__ import annotations

from typing import SupportsFloat

#: The matrices of each model kind, in page order: (field, caption).
MODEL_MATRICES = {
    "hmm": (("start", "π (k,)"), ("transition", "A (k,k)"), ("emission", "E (k,n); W = Eᵀ")),
    "memory_hmm": (
        ("memory_prior", "memory prior (N,m)"),
        ("state_start", "state start (s,)"),
        ("state_transition", "state transition (s,s)"),
        ("pointer", "pointer J (s,)"),
        ("emission", "emission (m·s, n), row a·s + st"),
    ),
}
MODEL_LABELS = {"hmm": "HMM", "memory_hmm": "memory-augmented HMM"}
#: Arrays with more rows than this show only their first rows.
MAX_ROWS = 60


def fmt(v: object) -> str:
    """A number in at most 4 significant digits (scientific outside [1e-3, 1e4))."""
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def short(v: SupportsFloat | None) -> str:
    """A heatmap cell's text: an integer, ``.25``-style below one, else 2 digits."""
    if v is None:
        return "–"
    x = float(v)
    if x == 0:
        return "0"
    if x == round(x):
        return str(int(x))
    return f"{x:.2f}".lstrip("0") if 0 < x < 1 else f"{x:.2g}"


def value_kind(value: object) -> str:
    """How a case value is shown: ``model`` (matrices and heatmaps), ``array`` or
    ``long_array`` (a saved array; long ones cut to :data:`MAX_ROWS`), ``rows`` (a list of
    records as one table), ``mapping`` (key/value table), ``matrix`` or ``scalar``."""
    if isinstance(value, dict) and value.get("kind") in MODEL_MATRICES:
        return "model"
    if isinstance(value, dict) and set(value) == {"array", "dtype"}:
        arr = value["array"]
        long = isinstance(arr, list) and arr and isinstance(arr[0], list) and len(arr) > MAX_ROWS
        return "long_array" if long else "array"
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return "rows"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "matrix"
    return "scalar"


def cell_kind(value: object) -> str:
    """How a table cell is shown: ``num`` (a float), ``list`` (a short flat list, inline),
    ``json`` (other lists and dicts, as JSON) or ``text``."""
    if isinstance(value, float):
        return "num"
    if (
        isinstance(value, list)
        and len(value) <= 40
        and all(not isinstance(x, (list, dict)) for x in value)
    ):
        return "list"
    if isinstance(value, (list, dict)):
        return "json"
    return "text"


def as_rows(matrix: object) -> list[list] | None:
    """A list as table rows (a flat list is one row); None for anything else."""
    if not isinstance(matrix, list):
        return None
    if matrix and not isinstance(matrix[0], list):
        return [matrix]
    return matrix


def row_keys(rows: list[dict]) -> list[str]:
    """The keys of a list of records, in first-seen order (the columns of its table)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    return keys


__all__ = [
    "MAX_ROWS",
    "MODEL_LABELS",
    "MODEL_MATRICES",
    "as_rows",
    "cell_kind",
    "fmt",
    "row_keys",
    "short",
    "value_kind",
]
