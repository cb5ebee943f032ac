"""Geometry of the report's inline SVG charts: plain numbers and labels, drawn by the
macros in ``templates/_charts.html`` (see :func:`verify.reports.pages.histogram_svg`)."""

from __future__ import annotations

import math

from .values import fmt, short


def histogram(values: list[float], name: str, width: int = 340, height: int = 170) -> dict | None:
    """Bars of a histogram of the finite ``values`` (None when there are none): at most 24
    bins, on a log10 x-axis when the positive values span more than two decades."""
    vals = [float(v) for v in values if math.isfinite(float(v))]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    logx = lo > 0 and hi / lo > 100
    xs = [math.log10(v) for v in vals] if logx else vals
    a, b = min(xs), max(xs)
    if a == b:
        a, b = a - 0.5, b + 0.5
    nbins = max(1, min(24, int(math.sqrt(len(xs))) + 1))
    counts = [0] * nbins
    for x in xs:
        counts[min(nbins - 1, int((x - a) / (b - a) * nbins))] += 1
    top = max(counts)
    left, plot_w, plot_h = 38, width - 48, height - 48
    bw = plot_w / nbins

    def tick(x: float) -> str:
        return fmt(10**x if logx else x)

    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x0, x1 = a + (b - a) * i / nbins, a + (b - a) * (i + 1) / nbins
        bars.append(
            {
                "x": left + i * bw,
                "y": 10 + plot_h - h,
                "w": max(bw - 1, 1),
                "h": h,
                "title": f"[{tick(x0)}, {tick(x1)}): {c}",
            }
        )
    return {
        "name": name,
        "width": width,
        "height": height,
        "bars": bars,
        "top": top,
        "left": left,
        "plot_w": plot_w,
        "base": 10 + plot_h,
        "logx": logx,
        "lo": tick(a),
        "hi": tick(b),
    }


def heatmap(matrix: list[list[float]], name: str, cell: int = 26) -> dict | None:
    """Cells of a heatmap of a small matrix (None when it is empty): white → blue by
    ``|v| / max |v|``, the value printed in each cell when cells are ≥ 22 px."""
    rows = len(matrix)
    cols = max((len(r) for r in matrix), default=0)
    if not rows or not cols:
        return None
    flat = [abs(float(v)) for r in matrix for v in r if v is not None]
    vmax = max(flat) if flat and max(flat) > 0 else 1.0
    cell = max(8, min(cell, 560 // cols))
    cells = []
    for i, r in enumerate(matrix):
        for j, v in enumerate(r):
            t = 0.0 if v is None else abs(float(v)) / vmax
            cells.append(
                {
                    "x": j * cell,
                    "y": i * cell,
                    "fill": f"rgb({int(255 - 200 * t)},{int(255 - 120 * t)},255)",
                    "title": f"[{i},{j}] = {fmt(v)}",
                    "text": short(v),
                    "ink": "#fff" if t > 0.6 else "#1f2328",
                }
            )
    return {
        "name": name,
        "width": cols * cell,
        "height": rows * cell,
        "cell": cell,
        "cells": cells,
        "show_text": cell >= 22,
    }


def bars(counts: dict, name: str, width: int = 340, height: int = 150) -> dict | None:
    """Bars of a discrete distribution ``{value: count}`` (instance sizes; None when empty),
    the first 40 values, with about 8 labelled when there are more than 16."""
    items = list(counts.items())[:40]
    if not items:
        return None
    top = max(int(c) for _, c in items) or 1
    left, plot_w, plot_h = 30, width - 40, height - 40
    bw = plot_w / len(items)
    every = 1 if len(items) <= 16 else max(1, len(items) // 8)
    out = []
    for i, (v, c) in enumerate(items):
        h = plot_h * int(c) / top
        out.append(
            {
                "x": left + i * bw,
                "y": 10 + plot_h - h,
                "w": max(bw - 2, 1),
                "h": h,
                "mid": left + i * bw + bw / 2,
                "title": f"{name} = {v}: {c}",
                "tick": v,
                "labelled": i % every == 0,
            }
        )
    return {
        "name": name,
        "width": width,
        "height": height,
        "bars": out,
        "top": top,
        "left": left,
        "plot_w": plot_w,
    }


__all__ = ["bars", "heatmap", "histogram"]
