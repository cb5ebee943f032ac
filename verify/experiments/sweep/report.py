"""The report of a sweep: per-cell fractions with Wilson intervals (CSV and JSON), one k × n
heatmap per quantity and slice (PNG and SVG), and one HTML page (``templates/sweep.html``).

A *slice* fixes every axis except k and n (generator, T, sparsity, nnz); each slice gets
its own heatmaps. The colour is the fraction of decided instances; each square is labelled
with the fraction and the count, and the dashed line marks k = n (C-HEAD needs n ≥ k).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from verify.experiments.sweep.config import QUANTITIES, Cell, SweepConfig
from verify.harness.files import atomic_write
from verify.reports.pages import write_page

SLICE_AXES = ("generator", "T", "sparsity", "nnz")


def _slice_name(key: tuple) -> str:
    gen, T, sp, z = key
    return f"{gen}_T{T}_s{sp}_z{z}".replace("/", "_")


def _json_safe(value: object) -> object:
    """NaN (an empty cell's fraction) → None, so the JSON is standard."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def summary_csv(summary: list[dict]) -> str:
    """One row per cell: coordinates, status counts, and per quantity
    successes, trials, fraction, Wilson low/high."""
    head = ["generator", "k", "n", "T", "sparsity", "nnz", "instances", "ok", "discarded", "errors"]
    cols = head + [
        f"{q}_{f}"
        for q, _ in QUANTITIES
        for f in ("successes", "trials", "fraction", "low", "high")
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for rec in summary:
        row = [rec[c] for c in head]
        for q, _ in QUANTITIES:
            row += [rec[q][f] for f in ("successes", "trials", "fraction", "low", "high")]
        w.writerow(["" if isinstance(v, float) and math.isnan(v) else v for v in row])
    return buf.getvalue()


def _heatmap(plt: ModuleType, recs: list[dict], q: str, title: str, key: tuple, path: Path) -> None:
    """One (n × k) heatmap of quantity ``q``'s fraction over a slice's cells, labelled with
    successes/trials (when ≤ 120 cells) and the k = n line; written as ``path`` + .png/.svg."""
    import matplotlib
    import numpy as np

    ks = sorted({r["k"] for r in recs})
    ns = sorted({r["n"] for r in recs})
    frac = np.full((len(ns), len(ks)), np.nan)
    label = [["" for _ in ks] for _ in ns]
    for r in recs:
        i, j = ns.index(r["n"]), ks.index(r["k"])
        s = r[q]
        frac[i, j] = s["fraction"]
        label[i][j] = f"{s['fraction']:.2f}\n{s['successes']}/{s['trials']}" if s["trials"] else "–"
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(ks), 1.2 + 0.5 * len(ns)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    im = ax.imshow(
        np.ma.masked_invalid(frac), origin="lower", cmap=cmap, vmin=0, vmax=1, aspect="auto"
    )
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_yticks(range(len(ns)), [str(n) for n in ns])
    ax.set_xlabel("k (hidden states)")
    ax.set_ylabel("n (tokens)")
    ax.set_title(f"{title}\n{key[0]}, T={key[1]}, sparsity={key[2]}, nnz={key[3]}", fontsize=9)
    if len(ks) * len(ns) <= 120:
        for i, j in np.ndindex(frac.shape):
            if label[i][j]:
                color = "black" if (not math.isnan(frac[i, j]) and frac[i, j] > 0.6) else "white"
                ax.text(j, i, label[i][j], ha="center", va="center", fontsize=6, color=color)
    # k = n: column index of each n's k (interpolated on the k ticks)
    xs = np.interp(ns, ks, range(len(ks)), left=np.nan, right=np.nan)
    ax.plot(xs, range(len(ns)), "--", color="white", linewidth=1, label="k = n")
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="fraction of instances")
    fig.tight_layout()
    fig.savefig(path.parent / f"{path.name}.png", dpi=110)  # the stem may hold dots
    fig.savefig(path.parent / f"{path.name}.svg")
    plt.close(fig)


def heatmaps(summary: list[dict], out: Path) -> list[dict]:
    """Write ``heatmaps/<quantity>__<slice>.png/.svg``; return one entry per figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slices: dict[tuple, list[dict]] = {}
    for rec in summary:
        slices.setdefault(tuple(rec[a] for a in SLICE_AXES), []).append(rec)
    figures = []
    (out / "heatmaps").mkdir(parents=True, exist_ok=True)
    for key, recs in sorted(slices.items()):
        for q, title in QUANTITIES:
            stem = f"{q}__{_slice_name(key)}"
            _heatmap(plt, recs, q, title, key, out / "heatmaps" / stem)
            png, svg = f"heatmaps/{stem}.png", f"heatmaps/{stem}.svg"
            figures.append({"quantity": q, "title": title, "slice": key, "png": png, "svg": svg})
    return figures


def _cell_text(s: dict) -> str:
    if not s["trials"]:
        return "–"
    return f"{s['fraction']:.2f} [{s['low']:.2f}, {s['high']:.2f}] ({s['successes']}/{s['trials']})"


def write_sweep_report(
    out: Path,
    config: SweepConfig,
    summary: list[dict],
    *,
    n_rows: int,
    failed: Sequence[tuple[Cell, str]] = (),
    interrupted: bool = False,
) -> Path:
    """summary.csv, summary.json, heatmaps and index.html under ``out``; returns the page."""
    out = Path(out)
    atomic_write(out / "summary.csv", summary_csv(summary))
    clean = _json_safe(summary)
    atomic_write(
        out / "summary.json", json.dumps({"config": config.to_dict(), "cells": clean}, indent=1)
    )
    figures = heatmaps(summary, out)
    slices: dict[tuple, list[dict]] = {}
    for f in figures:
        slices.setdefault(f["slice"], []).append(f)
    header = ["generator", "k", "n", "T", "sparsity", "nnz", "ok", "discarded", "errors"] + [
        t for _, t in QUANTITIES
    ]
    table = [
        [r[a] for a in header[:9]] + [_cell_text(r[q]) for q, _ in QUANTITIES] for r in summary
    ]
    return write_page(
        out / "index.html",
        "sweep.html",
        config=config,
        cells=len(summary),
        rows=n_rows,
        failed=[(getattr(c, "key", str(c)), why) for c, why in failed],
        interrupted=interrupted,
        axes=[
            (a, ", ".join(str(v) for v in getattr(config, a)) or "default")
            for a in ("generator", "k", "n", "T", "sparsity", "nnz")
        ],
        slices=[
            {"name": f"{k[0]}, T={k[1]}, sparsity={k[2]}, nnz={k[3]}", "figures": v}
            for k, v in sorted(slices.items())
        ],
        header=header,
        table=table,
    )


__all__ = ["heatmaps", "summary_csv", "write_sweep_report"]
