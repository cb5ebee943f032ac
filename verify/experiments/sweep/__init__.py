"""Phase diagrams: the theorems' conditions and recovery over a grid of instance sizes.

A sweep is a grid of *cells* — one per combination of the axes generator × k × n × T ×
sparsity × nnz — and ``instances`` random instances per cell. For every instance
(``hmm`` with k states and n tokens, task μ, input set 𝒮 of length-T inputs) it records:

- C-HEAD, C-HEAD(μ), C-PROMPT(μ) (with the search method, exact or heuristic) as numbers
  (``verify.core.conditions``);
- head recoverability on 𝒮: the §6 LP on the mask probe ``G(x)`` (status, certified margin);
- prompt recoverability: when C-PROMPT(μ) holds, its witness ``u = 1_U`` and the §6 LP on
  ``G(u, x)`` (status, certified margin), plus whether the witness's own head recovers;
  without a witness the status is ``no_witness`` (no prompt was tried: not a proof that
  none recovers);
- the task margin γ on 𝒮 and the prompt theorem's bound ``γ / max v``.

Axes: ``sparsity`` is τ_trans for the reference generator (a positive number; smaller is
sparser: the permutation mixture concentrates on one permutation) and the transition style
for the strategies generator (``dense``, ``sparse``, ``permutation``); ``nnz`` is the number
of nonzero task weights of the reference generator's 2×k matrix (|supp μ| ≤ nnz) and the
largest drawn |supp μ| of the strategies generator.

Determinism: instance ``i`` of a cell is drawn from ``SeedSequence(seed, spawn_key=(crc32
(cell key), i))`` (reference) and a cell's Hypothesis run from ``SeedSequence(seed,
spawn_key=(crc32(cell key),))`` (strategies), never from execution order, so every engine
and every worker count gives the same instances and decisions.

Storage: one Parquet file per finished cell under ``OUT/cells/`` (written atomically as the
cell arrives, so an interrupted sweep keeps what finished and a rerun skips those cells),
and ``OUT/results.parquet``, the union in cell order, at the end.

Modules: :mod:`.config` (grid, flags, TOML), :mod:`.generate` (instances),
:mod:`.evaluate` (one instance, one cell), :mod:`.storage` (Parquet cells, manifest),
:mod:`.run` (the sweep), :mod:`.summary` (Wilson fractions), :mod:`.report` (page, heatmaps).
"""

from __future__ import annotations

from verify.experiments.sweep.config import (
    AXES,
    GENERATORS,
    PROMPT_MODES,
    QUANTITIES,
    SCHEMA_VERSION,
    STRATEGY_STYLES,
    WILSON_Z,
    Cell,
    SweepConfig,
    load_toml,
    make_config,
    parse_int_list,
)
from verify.experiments.sweep.evaluate import (
    COLUMNS,
    CellResult,
    CellTask,
    evaluate_instance,
    run_cell,
)
from verify.experiments.sweep.evaluate import (
    _complete as _complete,  # tests build rows with it
)
from verify.experiments.sweep.generate import (
    instance_seed,
    reference_instances,
    strategy_instances,
)
from verify.experiments.sweep.run import SweepOutcome, run_sweep
from verify.experiments.sweep.storage import (
    cell_path,
    load_cell,
    read_rows,
    rows_to_table,
    write_table_atomic,
)
from verify.experiments.sweep.summary import summarize, wilson_interval

__all__ = [
    "AXES",
    "COLUMNS",
    "GENERATORS",
    "PROMPT_MODES",
    "QUANTITIES",
    "SCHEMA_VERSION",
    "STRATEGY_STYLES",
    "WILSON_Z",
    "Cell",
    "CellResult",
    "CellTask",
    "SweepConfig",
    "SweepOutcome",
    "cell_path",
    "evaluate_instance",
    "instance_seed",
    "load_cell",
    "load_toml",
    "make_config",
    "parse_int_list",
    "read_rows",
    "reference_instances",
    "rows_to_table",
    "run_cell",
    "run_sweep",
    "strategy_instances",
    "summarize",
    "wilson_interval",
    "write_table_atomic",
]
