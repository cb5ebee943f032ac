"""A run's files: results.csv, pretraining.json, the figures and index.html."""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from verify.experiments.authors import DEVIATIONS
from verify.experiments.reproduce.presets import COLUMNS, EXPERIMENTS, N_TOKENS, Preset
from verify.experiments.reproduce.shape import (
    assess_shape,
    backbone_gaps,
    disagreement_table,
    side_by_side,
    summarize,
    tv_table,
)
from verify.harness.files import atomic_path, atomic_write
from verify.reports.pages import write_page


def _write_csv(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


def _write_json(obj, path: Path) -> None:
    atomic_write(path, json.dumps(obj, indent=1))


def _figure(rows: list[dict], out_dir: Path) -> tuple[Path, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summarize(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"oracle": "-", "transformer": "--"}
    for ax, exp in zip(axes, ("vanilla", "memory"), strict=True):
        curves = sorted({(b, m) for (e, b, m, k) in s if e == exp})
        for bb, method in curves:
            ks = sorted(k for (e, b, m, k) in s if e == exp and b == bb and m == method)
            mean = np.array([s[(exp, bb, method, k)][0] for k in ks])
            std = np.array([s[(exp, bb, method, k)][1] for k in ks])
            (line,) = ax.plot(ks, mean, styles[bb], marker="o", label=f"{method} ({bb})")
            ax.fill_between(ks, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.axvline(N_TOKENS, color="grey", ls=":", lw=1)
        # mid-height: the legend sits in the lower left, the curves near the top
        ax.text(
            N_TOKENS, 0.45, f" n = {N_TOKENS}", color="grey", transform=ax.get_xaxis_transform()
        )
        ax.set_xlabel("number of hidden states k")
        ax.set_ylabel("test accuracy (mean ± std over seeds)")
        ax.set_title(
            "vanilla HMM: head vs prompt tuning"
            if exp == "vanilla"
            else "memory HMM (attention) vs vanilla (linear head)"
        )
        ax.set_ylim(0.4, 1.02)
        if curves:
            ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png, svg = out_dir / "figure.png", out_dir / "figure.svg"
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)
    return png, svg


def _curve_figure(pretraining: list[dict], out_dir: Path) -> Path | None:
    """TV to the oracle vs pretraining loop time, one line per MLM (log scale), targets
    dotted; written to pretraining.png (None when no MLM was pretrained)."""
    if not pretraining:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0), sharey=True)
    for ax, kind in zip(axes, EXPERIMENTS, strict=True):
        recs = [r for r in pretraining if r["mlm"] == kind]
        for r in recs:
            pts = [(c["time_s"], c["tv"]) for c in r["curve"]]
            if pts:
                t, tv = zip(*pts, strict=True)
                ax.plot(t, tv, marker=".", label=f"k={r['k']} seed={r['seed']}")
        for target in sorted({r["target"] for r in recs}):
            ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("pretraining loop time (s)")
        ax.set_title(
            "vanilla MLM: TV of the mask probe to G(x)"
            if kind == "vanilla"
            else "memory MLM: TV of per-position outputs to G_i(x)"
        )
        if recs:
            ax.legend(fontsize=7, ncol=2)
    axes[0].set_ylabel("mean TV to the oracle (held-out)")
    fig.tight_layout()
    path = out_dir / "pretraining.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _html(
    rows: list[dict],
    preset: Preset,
    device: str,
    wall: float,
    png: Path,
    out_dir: Path,
    robust: Sequence[dict] = (),
    pretraining: Sequence[dict] = (),
    curve_png: Path | None = None,
    all_rows: list[dict] | None = None,
    labels: Sequence[dict] = (),
) -> Path:
    """index.html (``templates/reproduce.html``): the verdict on the paper's shape, the
    figures inlined, mean accuracies, the pretrained MLMs' TV and the head.robust check, on
    ``rows`` (the first convention run); with ``all_rows`` of several conventions, both
    side by side; under "authors", the label rules' disagreement (``labels``) and the
    deviations that remain from the authors' pipeline."""
    shape = assess_shape(rows)
    tv = tv_table([r for r in pretraining if r.get("convention", "theory") == preset.convention])
    all_rows = rows if all_rows is None else all_rows
    conventions = sorted({r["convention"] for r in all_rows}, key=("theory", "authors").index)
    return write_page(
        out_dir / "index.html",
        "reproduce.html",
        preset=preset,
        device=device,
        wall=wall,
        n_tokens=N_TOKENS,
        shape=shape,
        holds_all=all(h for _, h, _ in shape),
        missed=[r for r in pretraining if not r["met"]],
        falsified=[r for r in robust if r["violations"]],
        figure=base64.b64encode(png.read_bytes()).decode(),
        curve=None if curve_png is None else base64.b64encode(curve_png.read_bytes()).decode(),
        accuracy=summarize(rows),
        gaps=backbone_gaps(rows),
        pretraining=sorted(
            pretraining,
            key=lambda r: (r.get("convention", "theory") != "theory", r["mlm"], r["k"], r["seed"]),
        ),
        experiments=EXPERIMENTS,
        tv=tv,
        tv_ks=sorted({k for _, k in tv}),
        robust=robust,
        mlm_config=repr(asdict(preset.mlm)),
        memory_mlm_config=None if preset.memory_mlm is None else repr(asdict(preset.memory_mlm)),
        conventions=conventions,
        side=side_by_side(all_rows) if len(conventions) > 1 else [],
        other_shapes={
            c: assess_shape([r for r in all_rows if r["convention"] == c])
            for c in conventions
            if c != preset.convention
        },
        disagreement=disagreement_table(list(labels)),
        deviations=DEVIATIONS if "authors" in conventions else (),
        input_lens={c: preset.with_convention(c).input_lens() for c in conventions},
    )
