"""Every HTML page ptverify writes (claims report, ``reproduce``, ``sweep``) is a jinja2
template in ``verify/reports/templates/``, rendered here with autoescape: each value is
escaped once, by jinja2. Pages extend ``base.html``, which inlines the one stylesheet
``style.css``, so a page is a single self-contained file (no scripts, nothing fetched).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from verify.core import theory
from verify.harness.files import atomic_write

from . import charts
from .values import (
    MAX_ROWS,
    MODEL_LABELS,
    MODEL_MATRICES,
    as_rows,
    cell_kind,
    fmt,
    row_keys,
    short,
    value_kind,
)


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment: templates from the installed package, autoescape on,
    undefined names an error, the value and chart helpers as filters and globals."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("verify.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        theory_anchor=theory.anchor,
        strength_class=strength_class,
        fmt=fmt,
        json=json.dumps,
        short=short,
        value_kind=value_kind,
        cell_kind=cell_kind,
        as_rows=as_rows,
        row_keys=row_keys,
    )
    env.globals.update(
        MODEL_MATRICES=MODEL_MATRICES,
        MODEL_LABELS=MODEL_LABELS,
        MAX_ROWS=MAX_ROWS,
        histogram_svg=histogram_svg,
        heatmap_svg=heatmap_svg,
        bars_svg=bars_svg,
    )
    return env


def strength_class(strength: str) -> str:
    """A CSS class for a strength (``tested (float route only)`` → ``float``)."""
    return "float" if "float" in strength else strength.split()[0]


def render(template: str, **context: Any) -> str:
    """The named template rendered with ``context``."""
    return environment().get_template(template).render(**context)


def write_page(path: str | os.PathLike, template: str, **context: Any) -> Path:
    """Render ``template`` and write it to ``path`` atomically; return the path."""
    return atomic_write(path, render(template, **context))


def _chart(macro: str, geometry: dict | None) -> Markup:
    return getattr(environment().get_template("_charts.html").module, macro)(geometry)


def histogram_svg(values: list[float], name: str) -> Markup:
    """Inline SVG histogram (:func:`charts.histogram`); a "no values" note when empty."""
    return _chart("histogram", charts.histogram(values, name))


def heatmap_svg(matrix: list[list[float]], name: str) -> Markup:
    """Inline SVG heatmap of a small matrix (:func:`charts.heatmap`); empty when it is."""
    return _chart("heatmap", charts.heatmap(matrix, name))


def bars_svg(counts: dict, name: str) -> Markup:
    """Inline SVG bar chart of ``{value: count}`` (:func:`charts.bars`)."""
    return _chart("bars", charts.bars(counts, name))


__all__ = ["bars_svg", "environment", "heatmap_svg", "histogram_svg", "render", "write_page"]
