"""Self-contained HTML report: inline CSS and SVG, no scripts, no network, every value
escaped with :func:`html.escape`, every file written atomically.

Layout of ``report_dir``: ``index.html`` (one row per claim), ``claims/<id>.html`` (the
claim, its counts and histograms of its condition quantities), ``cases/<id>.html`` (the
shrunk counterexample or witness: model matrices as tables and heatmaps, task, inputs with
posteriors / features / labels / head outputs, certificate, replay command) next to
``cases/<id>.json``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from verify.claims.registry import CLAIM_STATUSES

from .results import atomic_write

STATUS_COLOURS = {
    "held": "#1a7f37",
    "found": "#1a7f37",
    "falsified": "#cf222e",
    "not_found": "#cf222e",
    "error": "#a40e26",
    "inconclusive": "#9a6700",
    "vacuous": "#9a6700",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 8px}
h3{font-size:1em;margin:16px 0 6px}
.sub{color:#59636e;margin:0 0 16px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:.92em}
th,td{border:1px solid #d1d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;
 font-size:.85em}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin:12px 0}
.card{background:#fff;border:1px solid #d1d9e0;border-radius:6px;padding:8px 14px}
.card b{font-size:1.4em;display:block}
pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em}
pre{background:#fff;border:1px solid #d1d9e0;padding:8px;overflow:auto;max-height:420px}
.cmd{background:#0d1117;color:#e6edf3;padding:10px;border-radius:6px}
.flex{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
figure{margin:0;background:#fff;border:1px solid #d1d9e0;padding:8px;border-radius:6px}
figcaption{font-size:.85em;color:#59636e}
a{color:#0969da}
.wide{overflow-x:auto;max-width:100%}
"""


def e(value: Any) -> str:
    """Escape any value for HTML text and attributes."""
    return html.escape(str(value), quote=True)


def fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e4 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def page(title: str, body: str, up: str = "") -> str:
    nav = f'<p><a href="{e(up)}index.html">← all claims</a></p>' if up else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{nav}{body}\n</main>\n</body>\n</html>\n"
    )


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#59636e")
    return f'<span class="badge" style="background:{e(colour)}">{e(status)}</span>'


# --------------------------------------------------------------------------- SVG


def histogram_svg(values: list[float], name: str, width: int = 340, height: int = 170) -> str:
    """Inline SVG histogram; log10 x-axis when positive values span > 2 decades."""
    vals = [float(v) for v in values if math.isfinite(float(v))]
    if not vals:
        return "<p>no values</p>"
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
    bars = []
    bw = plot_w / nbins
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x0, x1 = a + (b - a) * i / nbins, a + (b - a) * (i + 1) / nbins
        lab = f"[{fmt(10**x0 if logx else x0)}, {fmt(10**x1 if logx else x1)}): {c}"
        bars.append(
            f'<rect x="{left + i * bw:.1f}" y="{10 + plot_h - h:.1f}" width="{max(bw - 1, 1):.1f}"'
            f' height="{h:.1f}" fill="#4c8bf5"><title>{e(lab)}</title></rect>'
        )

    def tick(x: float) -> str:
        return fmt(10**x if logx else x)

    axis = (
        f'<line x1="{left}" y1="{10 + plot_h}" x2="{left + plot_w}" y2="{10 + plot_h}" '
        'stroke="#59636e"/>'
        f'<text x="{left}" y="{height - 14}" font-size="10">{e(tick(a))}</text>'
        f'<text x="{left + plot_w}" y="{height - 14}" font-size="10" text-anchor="end">'
        f"{e(tick(b))}</text>"
        f'<text x="{left + plot_w / 2}" y="{height - 2}" font-size="10" text-anchor="middle">'
        f"{e(name)}{' (log scale)' if logx else ''}</text>"
        f'<text x="{left - 4}" y="18" font-size="10" text-anchor="end">{top}</text>'
        f'<text x="{left - 4}" y="{10 + plot_h}" font-size="10" text-anchor="end">0</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(name)} histogram">'
        + "".join(bars)
        + axis
        + "</svg>"
    )


def heatmap_svg(matrix: list[list[float]], name: str, cell: int = 26) -> str:
    """Inline SVG heatmap of a small matrix, value printed in each cell (white → blue)."""
    rows = len(matrix)
    cols = max((len(r) for r in matrix), default=0)
    if not rows or not cols:
        return ""
    flat = [abs(float(v)) for r in matrix for v in r if v is not None]
    vmax = max(flat) if flat and max(flat) > 0 else 1.0
    cell = max(8, min(cell, 560 // cols))
    show_text = cell >= 22
    parts = []
    for i, r in enumerate(matrix):
        for j, v in enumerate(r):
            t = 0.0 if v is None else abs(float(v)) / vmax
            shade = int(255 - 200 * t)
            fill = f"rgb({shade},{int(255 - 120 * t)},255)"
            parts.append(
                f'<rect x="{j * cell}" y="{i * cell}" width="{cell}" height="{cell}" '
                f'fill="{fill}" stroke="#fff"><title>{e(f"[{i},{j}] = {fmt(v)}")}</title></rect>'
            )
            if show_text:
                colour = "#fff" if t > 0.6 else "#1f2328"
                parts.append(
                    f'<text x="{j * cell + cell / 2}" y="{i * cell + cell / 2 + 3}" '
                    f'font-size="8" text-anchor="middle" fill="{colour}">{e(_short(v))}</text>'
                )
    w, h = cols * cell, rows * cell
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{e(name)} heatmap">'
        + "".join(parts)
        + "</svg>"
    )


def _short(v: Any) -> str:
    if v is None:
        return "–"
    v = float(v)
    if v == 0:
        return "0"
    if v == round(v):
        return str(int(v))
    return f"{v:.2f}".lstrip("0") if 0 < v < 1 else f"{v:.2g}"


# --------------------------------------------------------------------------- tables


def matrix_table(matrix: Any, row_label: str = "", col_label: str = "") -> str:
    if not isinstance(matrix, list):
        return f"<p><code>{e(fmt(matrix))}</code></p>"
    if matrix and not isinstance(matrix[0], list):
        matrix = [matrix]
    cols = max((len(r) for r in matrix), default=0)
    head = f"<tr><th>{e(row_label)}</th>" + "".join(f"<th>{j}</th>" for j in range(cols))
    body = "".join(
        f"<tr><th>{i}</th>" + "".join(f'<td class="num">{e(fmt(v))}</td>' for v in r) + "</tr>"
        for i, r in enumerate(matrix)
    )
    cap = f"<caption>{e(col_label)}</caption>" if col_label else ""
    return f'<div class="wide"><table>{cap}{head}</tr>{body}</table></div>'


def kv_table(d: dict) -> str:
    rows = "".join(
        f"<tr><th>{e(k)}</th><td>{_cell(v)}</td></tr>" for k, v in d.items() if v is not None
    )
    return f"<table>{rows}</table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f'<span class="num">{e(fmt(v))}</span>'
    if isinstance(v, list) and len(v) <= 40 and all(not isinstance(x, (list, dict)) for x in v):
        return "<code>[" + e(", ".join(fmt(x) for x in v)) + "]</code>"
    if isinstance(v, (list, dict)):
        return f"<code>{e(json.dumps(v)[:2000])}</code>"
    return e(fmt(v))


def rows_table(rows: list[dict]) -> str:
    """A list of row dicts (the conflicting inputs) as one table."""
    keys: list[str] = []
    for r in rows:
        if isinstance(r, dict):
            keys += [k for k in r if k not in keys]
    head = "<tr>" + "".join(f"<th>{e(k)}</th>" for k in keys) + "</tr>"
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_cell(r.get(k)) if isinstance(r, dict) else ''}</td>" for k in keys)
        + "</tr>"
        for r in rows
    )
    return f'<div class="wide"><table>{head}{body}</table></div>'


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


def model_html(name: str, model: dict) -> str:
    kind = model.get("kind", "hmm")
    label = {"hmm": "HMM", "memory_hmm": "memory-augmented HMM"}.get(kind, kind)
    out = [f"<h3>{e(name)} ({e(label)})</h3>"]
    for field, caption in MODEL_MATRICES.get(kind, ()):
        val = model.get(field)
        mat = val if (isinstance(val, list) and val and isinstance(val[0], list)) else [val]
        out.append(
            f'<div class="flex"><figure>{matrix_table(val)}<figcaption>{e(caption)}'
            f"</figcaption></figure><figure>{heatmap_svg(mat, field)}"
            f"<figcaption>{e(field)} heatmap</figcaption></figure></div>"
        )
    return "".join(out)


def value_html(name: str, value: Any, heading: bool = True) -> str:
    if not heading:
        return value_html(name, value).split("</h3>", 1)[1]
    if isinstance(value, dict) and value.get("kind") in MODEL_MATRICES:
        return model_html(name, value)
    if isinstance(value, dict) and set(value) == {"array", "dtype"}:
        arr = value["array"]
        if isinstance(arr, list) and arr and isinstance(arr[0], list) and len(arr) > 60:
            return f"<h3>{e(name)}</h3><p>{len(arr)} rows (first 60)</p>" + matrix_table(arr[:60])
        return f"<h3>{e(name)}</h3>" + matrix_table(arr)
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return f"<h3>{e(name)}</h3>" + rows_table(value)
    if isinstance(value, dict):
        return f"<h3>{e(name)}</h3>" + kv_table(value)
    if isinstance(value, list):
        return f"<h3>{e(name)}</h3>" + matrix_table(value)
    return f"<h3>{e(name)}</h3><p><code>{e(fmt(value))}</code></p>"


# --------------------------------------------------------------------------- pages


def _slug(claim_id: str) -> str:
    return claim_id  # IDs are validated: no spaces, no '/'


def index_page(doc: dict, reproduce_link: str | None = None) -> str:
    claims = doc["claims"]
    summary = doc.get("summary", {})
    cards = "".join(
        f'<div class="card"><b style="color:{e(STATUS_COLOURS.get(s, "#333"))}">'
        f"{e(summary.get(s, 0))}</b>{e(s)}</div>"
        for s in CLAIM_STATUSES
        if summary.get(s)
    )
    rows = []
    for c in claims:
        cnt = c["counts"]
        case = (
            f'<a href="cases/{e(_slug(c["id"]))}.html">{e(c["case"]["role"])}</a>'
            if c.get("case")
            else ""
        )
        rows.append(
            f'<tr><td><a href="claims/{e(_slug(c["id"]))}.html"><code>{e(c["id"])}</code></a>'
            f"</td><td>{e(c['theorem'])}</td><td>{e(c['kind'])}</td>"
            f"<td>{badge(c['status'])}</td>"
            f'<td class="num">{e(cnt.get("examples", 0))}</td>'
            f'<td class="num">{e(cnt.get("passed", 0))}</td>'
            f'<td class="num">{e(cnt.get("discarded", 0))}</td>'
            f'<td class="num">{e(cnt.get("inconclusive", 0))}</td>'
            f'<td class="num">{e(_exercised(c))}</td>'
            f'<td class="num">{float(c["time_s"]):.1f}</td><td>{case}</td></tr>'
        )
    state = "complete" if doc.get("complete") else "PARTIAL (interrupted or still running)"
    seed = doc.get("seed")
    seed_text = f"seed {seed}" if seed is not None else "seed: derandomized / per claim"
    body = (
        "<h1>ptverify — claims report</h1>"
        f'<p class="sub">Wei, Xie &amp; Ma (NeurIPS 2021) · profile <b>{e(doc.get("profile"))}'
        f"</b> · {e(seed_text)} · {e(doc.get('created'))} · {e(state)} · "
        f"wall time {e(fmt(float(doc.get('wall_time_s', 0.0))))} s · exit code "
        f"{e(doc.get('exit_code'))}</p>"
        f'<div class="cards">{cards}</div>'
        "<table><tr><th>claim</th><th>theorem</th><th>kind</th><th>status</th>"
        "<th>examples</th><th>passed</th><th>discarded</th><th>inconclusive</th>"
        "<th>premise exercised</th><th>time (s)</th><th>case</th></tr>"
        + "".join(rows)
        + "</table>"
        + (
            f'<p>Paper experiments (THEORY §8): <a href="{e(reproduce_link)}">'
            "ptverify reproduce report</a></p>"
            if reproduce_link
            else ""
        )
        + '<p class="sub">Discarded: ill-posed instances (margin γ = 0 on the input set). '
        "Inconclusive: an oracle (LP solver) could not decide. Neither counts as a pass. "
        "Vacuous: the claim held only on examples that mostly did not exercise its premise "
        "(premise exercised: fraction of decided examples that did).</p>"
    )
    return page("ptverify report", body)


def _exercised(c: dict) -> str:
    frac = (c.get("coverage") or {}).get("exercised")
    return "–" if frac is None else f"{100 * float(frac):.0f}%"


def bars_svg(counts: dict, name: str, width: int = 340, height: int = 150) -> str:
    """Inline SVG bar chart of a discrete distribution ``{value: count}`` (instance sizes)."""
    items = list(counts.items())[:40]
    if not items:
        return "<p>no values</p>"
    top = max(int(c) for _, c in items) or 1
    left, plot_w, plot_h = 30, width - 40, height - 40
    bw = plot_w / len(items)
    parts = []
    for i, (v, c) in enumerate(items):
        h = plot_h * int(c) / top
        x = left + i * bw
        parts.append(
            f'<rect x="{x:.1f}" y="{10 + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#8250df"><title>{e(f"{name} = {v}: {c}")}</title></rect>'
        )
        if len(items) <= 16 or i % max(1, len(items) // 8) == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{height - 16}" font-size="9" '
                f'text-anchor="middle">{e(v)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 2}" font-size="10" text-anchor="middle">'
        f"{e(name)}</text>"
        f'<text x="{left - 4}" y="18" font-size="10" text-anchor="end">{top}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(name)} distribution">'
        + "".join(parts)
        + "</svg>"
    )


def coverage_html(cov: dict) -> str:
    """The claim page's coverage section: size ranges and distributions, the exercised
    fraction, the discard rate and the extremes reached by targeting."""
    if not cov:
        return "<p>no coverage recorded</p>"
    frac = cov.get("exercised")
    summary = {
        "premise exercised": (
            "not reported by this claim"
            if frac is None
            else f"{100 * float(frac):.1f}% ({cov.get('exercised_count')} of "
            f"{cov.get('exercised_known')} decided examples)"
        ),
        "discard rate": f"{100 * float(cov.get('discard_rate', 0.0)):.1f}%",
    }
    for name, rng in cov.items():
        if isinstance(rng, list) and len(rng) == 2:
            summary[f"{name} range"] = f"{fmt(rng[0])} … {fmt(rng[1])}"
    figs = "".join(
        f"<figure>{bars_svg(counts, name)}<figcaption><code>{e(name)}</code></figcaption></figure>"
        for name, counts in (cov.get("sizes") or {}).items()
    )
    targets = cov.get("targets") or {}
    trows = "".join(
        f'<tr><td><code>{e(k)}</code></td><td class="num">{e(fmt(v.get("max")))}</td>'
        f'<td class="num">{e(fmt(v.get("min")))}</td>'
        f'<td class="num">{e(v.get("count"))}</td></tr>'
        for k, v in targets.items()
    )
    ttable = (
        "<h3>Targeted quantities (Hypothesis maximises each)</h3><table><tr><th>target</th>"
        f"<th>extreme reached (max)</th><th>min</th><th>examples</th></tr>{trows}</table>"
        if trows
        else ""
    )
    return kv_table(summary) + (f'<div class="flex">{figs}</div>' if figs else "") + ttable


def claim_page(c: dict) -> str:
    cnt = c["counts"]
    meta = {
        "theorem": c["theorem"],
        "kind": c["kind"],
        "statement": c.get("statement"),
        "strategy": c.get("strategy"),
        "oracles": ", ".join(c.get("oracles", [])),
        "routes compared": "; ".join(c.get("routes", [])) or None,
        "profile": c.get("profile"),
        "budget (examples)": c.get("budget"),
        "seed": c.get("seed"),
        "module": c.get("module"),
    }
    hist = []
    for name, q in c.get("quantities", {}).items():
        stats = f"n={q['count']} min={fmt(q['min'])} median={fmt(q['median'])} max={fmt(q['max'])}"
        hist.append(
            f"<figure>{histogram_svg(q.get('values', []), name)}"
            f"<figcaption><code>{e(name)}</code>: {e(stats)}</figcaption></figure>"
        )
    case = ""
    if c.get("case"):
        case = (
            f'<h2>{e(c["case"]["role"])}</h2><p><a href="../cases/{e(_slug(c["id"]))}.html">'
            f"shrunk {e(c['case']['role'])}</a> · <code>{e(c.get('case_file'))}</code></p>"
        )
    body = (
        f"<h1><code>{e(c['id'])}</code> {badge(c['status'])}</h1>"
        f'<p class="sub">{e(c["message"])}</p>'
        + kv_table(meta)
        + "<h2>Counts</h2>"
        + kv_table({**cnt, "time (s)": c["time_s"]})
        + (("<h2>Thresholds</h2>" + kv_table(c["thresholds"])) if c.get("thresholds") else "")
        + case
        + "<h2>Coverage</h2>"
        + coverage_html(c.get("coverage") or {})
        + "<h2>Condition quantities</h2>"
        + (f'<div class="flex">{"".join(hist)}</div>' if hist else "<p>none recorded</p>")
    )
    return page(f"{c['id']} — ptverify", body, up="../")


def case_page(c: dict, report_dir: str | None = None) -> str:
    """The counterexample / witness page; the replay command is given relative to where
    ``ptverify run`` was started (``report_dir`` as typed), or to the report folder."""
    case = c["case"]
    out = case["outcome"]
    detail = dict(out.get("detail") or {})
    parts = [
        f"<h1>{e(case['role'])}: <code>{e(c['id'])}</code> {badge(c['status'])}</h1>",
        f'<p class="sub">{e(c["theorem"])} · {e(c["kind"])} claim</p>',
        f"<p><b>{e(out.get('message', ''))}</b></p>",
        "<h2>Reproduce</h2>",
        f'<pre class="cmd">ptverify replay {e(_replay_path(c, report_dir))}</pre>',
        "<h2>Instance (shrunk)</h2>",
    ]
    for name, value in case["instance"].items():
        parts.append(value_html(name, value))
    if out.get("quantities"):
        parts.append("<h2>Condition quantities</h2>" + kv_table(out["quantities"]))
    for key, title in (
        ("task", "Task"),
        ("inputs", "Conflicting inputs"),
        ("head", "Head"),
        ("certificate", "LP certificate"),
    ):
        if key in detail:
            parts.append(f"<h2>{e(title)}</h2>" + value_html(key, detail.pop(key), False))
    for key, value in detail.items():
        if isinstance(value, str):
            parts.append(f"<h2>{e(key)}</h2><pre>{e(value)}</pre>")
        else:
            parts.append(f"<h2>{e(key)}</h2>" + value_html(key, value, False))
    parts.append(
        "<h2>Case file (plain JSON)</h2><pre>" + e(json.dumps(case, indent=1)[:20000]) + "</pre>"
    )
    return page(f"{c['id']} {case['role']} — ptverify", "".join(parts), up="../")


def _replay_path(c: dict, report_dir: str | None) -> str:
    rel = c.get("case_file") or f"cases/{c['id']}.json"
    return f"{report_dir.rstrip('/')}/{rel}" if report_dir else rel


def write_html(doc: dict, report_dir: str | Path) -> Path:
    """Write the whole HTML report; return the index path."""
    report_dir = Path(report_dir)
    for c in doc["claims"]:
        atomic_write(report_dir / "claims" / f"{_slug(c['id'])}.html", claim_page(c))
        if c.get("case"):
            atomic_write(
                report_dir / "cases" / f"{_slug(c['id'])}.html", case_page(c, doc.get("report_dir"))
            )
    # `ptverify reproduce --out REPORT_DIR/reproduce` (the default) is linked when present
    link = "reproduce/index.html" if (report_dir / "reproduce" / "index.html").exists() else None
    return atomic_write(report_dir / "index.html", index_page(doc, link))
