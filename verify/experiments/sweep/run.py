"""The sweep: every cell not yet on disk as an engine task, each written as it arrives."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from verify.experiments.sweep.config import Cell, SweepConfig
from verify.experiments.sweep.evaluate import CellResult, CellTask, run_cell
from verify.experiments.sweep.storage import (
    _check_manifest,
    cell_path,
    load_cell,
    rows_to_table,
    write_table_atomic,
)
from verify.harness import engines
from verify.harness.engines import Engine
from verify.harness.progress import bar as progress_bar


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did: the rows of every cell of the grid that is on disk, the
    cells computed now / skipped (already on disk) / failed (engine error, retried next
    run), and whether it was interrupted."""

    rows: list[dict]
    computed: list[Cell]
    skipped: list[Cell]
    failed: list[tuple[Cell, str]]
    interrupted: bool
    seconds: float


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    engine: str | Engine = "local",
    workers: int = 1,
    address: str | None = None,
    progress: bool = True,
    cell_fn: Callable[[CellTask], CellResult] | None = None,
) -> SweepOutcome:
    """Compute every cell of ``config`` not yet in ``out/cells``, writing each as it arrives;
    then write ``out/results.parquet`` (all cells of the grid, in cell order). ``engine``:
    an :class:`~verify.harness.engines.Engine`, or its name (with ``workers``, ``address``)."""
    if not isinstance(engine, Engine):
        engine = Engine(engine, workers, address)
    out = Path(out)
    if engine.name == "ray":
        engines.import_ray()  # a missing extra is reported before anything is written
    _check_manifest(out, config)
    t0 = time.perf_counter()
    cells = config.cells()
    have = {c: rows for c in cells if (rows := load_cell(out, c)) is not None}
    todo = [c for c in cells if c not in have]  # missing, or damaged (warned, recomputed)
    skipped = [c for c in cells if c in have]
    tasks = [CellTask(c, config.instances, config.seed, config.prompts) for c in todo]
    computed: list[Cell] = []
    failed: list[tuple[Cell, str]] = []
    interrupted = False
    bar = progress_bar(len(cells), "sweep", "cell", initial=len(skipped), enabled=progress)
    try:
        for index, result in engine.run(cell_fn or run_cell, tasks):
            cell = tasks[index].cell
            if isinstance(result, BaseException):
                failed.append((cell, f"{type(result).__name__}: {result}"))
            else:
                write_table_atomic(rows_to_table(result.rows), cell_path(out, cell))
                computed.append(cell)
            bar.update(1)
            bar.set_postfix(failed=len(failed), refresh=False)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    rows = []
    for c in cells:
        if (cell_rows := have.get(c)) is None and c in computed:
            cell_rows = load_cell(out, c)
        rows.extend(cell_rows or [])
    write_table_atomic(rows_to_table(rows), out / "results.parquet")
    return SweepOutcome(rows, computed, skipped, failed, interrupted, time.perf_counter() - t0)
