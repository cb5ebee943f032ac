"""A sweep on disk: one Parquet file per finished cell (written atomically), the
manifest that refuses to mix sweeps, and the union table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from verify.core.validation import InputError
from verify.experiments.sweep.config import Cell, SweepConfig
from verify.experiments.sweep.evaluate import COLUMNS
from verify.harness.files import atomic_path

if TYPE_CHECKING:  # imported lazily at run time
    import pyarrow as pa

logger = logging.getLogger(__name__)


def _arrow_schema() -> pa.Schema:
    import pyarrow as pa

    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(name, kinds[kind]) for name, kind in COLUMNS.items()])


def rows_to_table(rows: Sequence[dict]) -> pa.Table:
    """Rows → a pyarrow Table with the fixed schema (also for zero rows)."""
    import pyarrow as pa

    schema = _arrow_schema()
    return pa.table({name: [r[name] for r in rows] for name in COLUMNS}, schema=schema)


def write_table_atomic(table: pa.Table, path: Path) -> Path:
    """Parquet via a temporary file + ``os.replace``: readers never see half a file."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def load_cell(out: Path, cell: Cell) -> list[dict] | None:
    """The rows of a finished cell, or None when its file is missing or damaged (truncated,
    not Parquet, another schema): then a warning names the file and the sweep recomputes
    the cell (its atomic write replaces the file)."""
    import pyarrow.parquet as pq

    path = cell_path(out, cell)
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        if table.schema.names != list(COLUMNS):
            raise ValueError("its columns are not the sweep's")
        return table.to_pylist()
    except Exception as exc:  # noqa: BLE001 - any unreadable cell file means: recompute it
        logger.warning(
            f"sweep: cell file {path} is damaged ({type(exc).__name__}: {exc}); "
            f"recomputing cell {cell.key}"
        )
        return None


def cell_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.file_id}.parquet"


def _check_manifest(out: Path, config: SweepConfig) -> None:
    """Refuse to mix a sweep into a folder that holds one with another seed or size."""
    import json

    from verify.reports import atomic_write

    manifest = out / "sweep.json"
    want = config.identity()
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text(encoding="utf-8")).get("identity")
        except (OSError, ValueError):
            have = None
        if have != want:
            raise InputError(
                f"--out {out}: it holds a sweep with {have}, not {want}; pass another --out "
                f"or the same --seed and --instances to resume it"
            )
    atomic_write(
        manifest,
        json.dumps({"identity": want, "config": config.to_dict()}, indent=2, sort_keys=True),
    )
