"""``reproduce``: the paper's two experiments (THEORY.md §8), oracle and transformer side by side.

- **vanilla**: reference HMMs with k hidden states (n = 10 tokens); head tuning (linear
  probe on the mask probe) vs prompt tuning (soft prompt + probe), across k.
- **memory**: memory HMMs (s = 4 ordinary states × m values, k = m·s) with an attention
  head over positions (and mean pooling, on the oracle) vs a vanilla HMM with the same k
  and a linear head.

Each runs on two backbones: ``oracle`` (exact inference, :mod:`verify.core.inference`) and
``transformer`` (a :class:`~verify.experiments.mlm.MaskedLM` pretrained on text from the
same model).
Writes ``results.csv``, ``figure.png``/``figure.svg`` and ``index.html`` into ``out_dir``.

Modules: :mod:`.presets` (sizes), :mod:`.panels` (pretraining and panels, serial or on an
engine), :mod:`.shape` (summaries, the paper's shape), :mod:`.outputs` (CSV, JSON,
figures, page), :mod:`.run` (the entry point :func:`reproduce`).
"""

from __future__ import annotations

from verify.experiments.reproduce.panels import _Runner as _Runner  # tests build runners
from verify.experiments.reproduce.panels import panel_task, pretrain_task, why_missed
from verify.experiments.reproduce.presets import (
    COLUMNS,
    EXPERIMENTS,
    N_ORDINARY,
    N_TOKENS,
    PRESETS,
    Preset,
)
from verify.experiments.reproduce.run import reproduce
from verify.experiments.reproduce.shape import assess_shape, backbone_gaps, summarize, tv_table

__all__ = [
    "COLUMNS",
    "EXPERIMENTS",
    "N_ORDINARY",
    "N_TOKENS",
    "PRESETS",
    "Preset",
    "assess_shape",
    "backbone_gaps",
    "panel_task",
    "pretrain_task",
    "why_missed",
    "reproduce",
    "summarize",
    "tv_table",
]
