"""``reproduce``: the paper's two experiments (THEORY.md §8), oracle and transformer side by side.

- **vanilla**: reference HMMs with k hidden states (n = 10 tokens); head tuning (linear
  probe on the mask probe) vs prompt tuning (soft prompt + probe), across k.
- **memory**: memory HMMs (s = 4 ordinary states × m values, k = m·s) with an attention
  head over positions (and mean pooling, on the oracle) vs a vanilla HMM with the same k
  and a linear head.

Each runs on two backbones: ``oracle`` (exact inference, :mod:`verify.inference`) and
``transformer`` (a :class:`~verify.mlm.MaskedLM` pretrained on text from the same model).
Writes ``results.csv``, ``figure.png``/``figure.svg`` and ``index.html`` into ``out_dir``.
"""

from __future__ import annotations

import base64
import csv
import html
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .inference import mask_probe, memory_posterior, posterior_h0
from .mlm import (
    MLMConfig,
    head_robust_check,
    mask_distribution,
    position_distributions,
    pretrain_mlm,
    train_prompt_mlm,
)
from .reference import (
    reference_hmm,
    reference_memory_hmm,
    reference_memory_task,
    reference_task,
    task_mu,
)
from .training import (
    Split,
    Splits,
    TrainConfig,
    resolve_device,
    train_attention,
    train_attention_on_features,
    train_linear_head,
    train_on_features,
    train_pooling,
    train_prompt,
)

N_TOKENS = 10
N_ORDINARY = 4
COLUMNS = (
    "experiment",
    "k",
    "seed",
    "method",
    "backbone",
    "accuracy",
    "train_accuracy",
    "val_accuracy",
    "majority",
    "n",
    "m",
    "tv",
    "epochs",
    "wall_time_s",
)


@dataclass(frozen=True)
class Preset:
    """Sizes of one ``reproduce`` run (see :data:`PRESETS`)."""

    name: str
    length: int  # downstream input length T
    n_train: int
    n_val: int
    n_test: int
    oracle_ks: tuple[int, ...]
    oracle_seeds: int
    transformer_ks: tuple[int, ...]
    transformer_seeds: int
    memory_ms: tuple[int, ...]
    memory_oracle_seeds: int
    memory_transformer_seeds: int
    oracle_prompt_len: int
    mlm_prompt_len: int
    mlm: MLMConfig
    train: TrainConfig
    prompt_lr: float = 0.1


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        length=24,
        n_train=400,
        n_val=150,
        n_test=300,
        oracle_ks=(4, 8, 12, 20, 30),
        oracle_seeds=3,
        transformer_ks=(8, 20),
        transformer_seeds=1,
        memory_ms=(2, 5),
        memory_oracle_seeds=2,
        memory_transformer_seeds=1,
        oracle_prompt_len=2,
        mlm_prompt_len=4,
        mlm=MLMConfig(
            d_model=32,
            n_layers=2,
            n_heads=2,
            d_ff=64,
            max_len=40,
            seq_len=32,
            mask_rate=0.15,
            steps=600,
            batch_size=32,
            lr=1e-2,
            corpus_sequences=64,
            corpus_length=256,
            checkpoint_every=100,
        ),
        train=TrainConfig(lr=0.05, batch_size=100, max_epochs=40, patience=8),
    ),
    "small": Preset(
        name="small",
        length=64,
        n_train=1500,
        n_val=300,
        n_test=600,
        oracle_ks=(4, 8, 10, 12, 15, 25, 30),
        oracle_seeds=5,
        transformer_ks=(4, 8, 12, 20, 30),
        transformer_seeds=2,
        memory_ms=(2, 3, 5, 7),
        memory_oracle_seeds=3,
        memory_transformer_seeds=2,
        oracle_prompt_len=2,
        mlm_prompt_len=8,
        mlm=MLMConfig(
            d_model=64,
            n_layers=2,
            n_heads=4,
            d_ff=128,
            max_len=80,
            seq_len=72,
            mask_rate=0.1,
            steps=1500,
            batch_size=32,
            lr=5e-3,
            corpus_sequences=256,
            corpus_length=1024,
            checkpoint_every=250,
        ),
        train=TrainConfig(lr=0.05, batch_size=200, max_epochs=40, patience=10),
    ),
    "paper": Preset(
        name="paper",
        length=128,
        n_train=5000,
        n_val=500,
        n_test=1000,
        oracle_ks=(4, 8, 10, 12, 15, 25, 30),
        oracle_seeds=20,
        transformer_ks=(4, 8, 10, 12, 15, 25, 30),
        transformer_seeds=20,
        memory_ms=(2, 3, 5, 7),
        memory_oracle_seeds=5,
        memory_transformer_seeds=5,
        oracle_prompt_len=2,
        mlm_prompt_len=20,
        mlm=MLMConfig(
            d_model=128,
            n_layers=4,
            n_heads=4,
            d_ff=512,
            max_len=160,
            seq_len=150,
            mask_rate=0.05,
            steps=20000,
            batch_size=128,
            lr=1e-3,
            corpus_sequences=5000,
            corpus_length=10240,
            checkpoint_every=1000,
        ),
        train=TrainConfig(lr=0.05, batch_size=250, max_epochs=200, patience=20),
    ),
}


def _log(msg: str, on: bool) -> None:
    if on:
        print(f"[reproduce] {msg}", file=sys.stderr, flush=True)


def _splits(sample, label, preset: Preset, seed: int) -> Splits:
    """Train/val/test inputs of length T from ``sample(B, T, rng)`` with ±1 labels."""
    out = []
    for i, size in enumerate((preset.n_train, preset.n_val, preset.n_test)):
        xs = sample(size, preset.length, np.random.default_rng([seed, 1000 + i]))
        out.append(Split(xs, label(xs)))
    return Splits(*out)


def _row(experiment, k, seed, method, backbone, res, splits, m="", tv="") -> dict:
    maj = float(max(np.mean(splits.test.y > 0), np.mean(splits.test.y < 0)))
    return {
        "experiment": experiment,
        "k": k,
        "seed": seed,
        "method": method,
        "backbone": backbone,
        "accuracy": round(res.test_accuracy, 6),
        "train_accuracy": round(res.train_accuracy, 6),
        "val_accuracy": round(res.val_accuracy, 6),
        "majority": round(maj, 6),
        "n": N_TOKENS,
        "m": m,
        "tv": "" if tv == "" else round(float(tv), 6),
        "epochs": res.epochs,
        "wall_time_s": round(res.wall_time_s, 3),
    }


def _tv(Ghat: np.ndarray, G: np.ndarray) -> float:
    return float(0.5 * np.abs(Ghat - G).sum(-1).mean())


class _Runner:
    def __init__(self, preset: Preset, device: str, out_dir: Path, progress: bool):
        self.p, self.device, self.out, self.progress = preset, device, out_dir, progress
        self.train = replace(preset.train, device=device, progress=False)
        self.mlms: dict = {}
        self.rows: list[dict] = []
        self.robust: list[dict] = []  # head.robust checks against the trained MLM

    def cfg(self, seed: int, **kw) -> TrainConfig:
        return replace(self.train, seed=seed, **kw)

    def mlm(self, kind: str, k: int, seed: int, model):
        key = (kind, k, seed)
        if key not in self.mlms:
            _log(f"pretraining MLM on {kind} k={k} seed={seed}", self.progress)
            ckpt = self.out / "checkpoints" / f"{kind}_k{k}_s{seed}"
            cfg = replace(self.p.mlm, seed=seed)
            self.mlms[key] = pretrain_mlm(model, cfg, self.device, ckpt, self.progress)[0]
        return self.mlms[key]

    # ---------------------------------------------------------------- vanilla
    def vanilla(self, k: int, seed: int, transformer: bool) -> None:
        hmm = reference_hmm(seed, k, N_TOKENS)
        mu = task_mu(reference_task(seed, k))
        sp = _splits(
            lambda b, t, r: hmm.sample(b, t, r)[0],
            lambda xs: np.where(posterior_h0(hmm, xs) @ mu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        if not transformer:
            res = train_linear_head(hmm, sp, self.cfg(seed))
            self.rows.append(_row("vanilla", k, seed, "head", "oracle", res, sp))
            res = train_prompt(
                hmm, sp, self.cfg(seed, lr=self.p.prompt_lr), self.p.oracle_prompt_len
            )
            self.rows.append(_row("vanilla", k, seed, "prompt", "oracle", res, sp))
            return
        net = self.mlm("vanilla", k, seed, hmm)
        feats = [mask_distribution(net, s.xs) for s in sp]
        tv = _tv(feats[2], mask_probe(hmm, sp.test.xs))
        if k <= N_TOKENS:  # C-HEAD can hold only when k ≤ n
            chk = head_robust_check(hmm, mu, feats[2], sp.test.xs)
            self.robust.append({"k": k, "seed": seed, **chk})
        res = train_on_features(feats, [s.y for s in sp], self.cfg(seed), "head")
        self.rows.append(_row("vanilla", k, seed, "head", "transformer", res, sp, tv=tv))
        res = train_prompt_mlm(net, sp, self.cfg(seed, lr=0.01), self.p.mlm_prompt_len)
        self.rows.append(_row("vanilla", k, seed, "prompt", "transformer", res, sp, tv=tv))

    # ---------------------------------------------------------------- memory
    def memory(self, m: int, seed: int, transformer: bool) -> None:
        k = m * N_ORDINARY
        mem = reference_memory_hmm(seed, m, N_ORDINARY, N_TOKENS)
        mu = task_mu(reference_memory_task(seed, m))
        sp = _splits(
            lambda b, t, r: mem.sample(b, t, r)[0],
            lambda xs: np.where(memory_posterior(mem, xs, 0) @ mu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        hmm = reference_hmm(seed, k, N_TOKENS)
        vmu = task_mu(reference_task(seed, k))
        vsp = _splits(
            lambda b, t, r: hmm.sample(b, t, r)[0],
            lambda xs: np.where(posterior_h0(hmm, xs) @ vmu > 0, 1.0, -1.0),
            self.p,
            seed,
        )
        if not transformer:
            res = train_attention(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "attention", "oracle", res, sp, m=m))
            res = train_pooling(mem, sp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "pooled", "oracle", res, sp, m=m))
            res = train_linear_head(hmm, vsp, self.cfg(seed))
            self.rows.append(_row("memory", k, seed, "vanilla_head", "oracle", res, vsp, m=m))
            return
        net = self.mlm("memory", k, seed, mem)
        feats = [position_distributions(net, s.xs) for s in sp]
        res = train_attention_on_features(feats, [s.y for s in sp], self.cfg(seed))
        self.rows.append(_row("memory", k, seed, "attention", "transformer", res, sp, m=m))
        vnet = self.mlm("vanilla", k, seed, hmm)
        vfeats = [mask_distribution(vnet, s.xs) for s in vsp]
        tv = _tv(vfeats[2], mask_probe(hmm, vsp.test.xs))
        res = train_on_features(vfeats, [s.y for s in vsp], self.cfg(seed), "vanilla_head")
        self.rows.append(
            _row("memory", k, seed, "vanilla_head", "transformer", res, vsp, m=m, tv=tv)
        )

    def run(self) -> None:
        p = self.p
        jobs = [("vanilla", k, s, False) for k in p.oracle_ks for s in range(p.oracle_seeds)]
        jobs += [("memory", m, s, False) for m in p.memory_ms for s in range(p.memory_oracle_seeds)]
        jobs += [
            ("vanilla", k, s, True) for k in p.transformer_ks for s in range(p.transformer_seeds)
        ]
        jobs += [
            ("memory", m, s, True) for m in p.memory_ms for s in range(p.memory_transformer_seeds)
        ]
        t0 = time.perf_counter()
        for i, (exp, size, seed, tr) in enumerate(jobs, 1):
            name = f"{exp} {'k' if exp == 'vanilla' else 'm'}={size} seed={seed} " + (
                "transformer" if tr else "oracle"
            )
            _log(f"({i}/{len(jobs)}) {name}  [{time.perf_counter() - t0:.0f}s]", self.progress)
            (self.vanilla if exp == "vanilla" else self.memory)(size, seed, tr)


# ------------------------------------------------------------------------- summaries


def summarize(rows: list[dict]) -> dict:
    """Mean, std and count of accuracy per (experiment, backbone, method, k)."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["experiment"], r["backbone"], r["method"], int(r["k"])), []).append(
            float(r["accuracy"])
        )
    return {key: (float(np.mean(v)), float(np.std(v)), len(v)) for key, v in sorted(groups.items())}


def assess_shape(
    rows: list[dict], n: int = N_TOKENS, tol: float = 0.02
) -> list[tuple[str, bool, str]]:
    """The paper's qualitative shape, per backbone: (statement, holds, numbers).

    vanilla: prompt ≥ head − tol at every k, and the mean gap over k > n exceeds that over
    k ≤ n. memory: attention ≥ 0.9 on average, vanilla+linear lower at the largest k than at
    the smallest, and attention > vanilla+linear for k > n."""
    s = summarize(rows)
    out = []
    for bb in ("oracle", "transformer"):
        ks = sorted({k for (e, b, m, k) in s if e == "vanilla" and b == bb})
        if ks:
            gaps = {
                k: s[("vanilla", bb, "prompt", k)][0] - s[("vanilla", bb, "head", k)][0] for k in ks
            }
            every = all(g >= -tol for g in gaps.values())
            lo = [g for k, g in gaps.items() if k <= n]
            hi = [g for k, g in gaps.items() if k > n]
            opens = bool(lo and hi and np.mean(hi) > np.mean(lo) + tol / 2)
            nums = ", ".join(f"k={k}: {g:+.3f}" for k, g in gaps.items())
            out.append(
                (
                    f"[{bb}] prompt ≥ head at every k (tolerance {tol})",
                    every,
                    f"gap prompt−head: {nums}",
                )
            )
            if lo and hi:
                out.append(
                    (
                        f"[{bb}] the gap opens once k > n = {n} (by > {tol / 2})",
                        opens,
                        f"mean gap k≤n {np.mean(lo):+.3f}, k>n {np.mean(hi):+.3f}",
                    )
                )
        mks = sorted({k for (e, b, m, k) in s if e == "memory" and b == bb})
        if mks:
            att = [s[("memory", bb, "attention", k)][0] for k in mks]
            van = [s[("memory", bb, "vanilla_head", k)][0] for k in mks]
            out.append(
                (
                    f"[{bb}] memory + attention near 100% (mean ≥ 0.9)",
                    bool(np.mean(att) >= 0.9),
                    "attention: "
                    + ", ".join(f"k={k}: {a:.3f}" for k, a in zip(mks, att, strict=True)),
                )
            )
            falls = len(mks) > 1 and van[-1] < van[0]
            out.append(
                (
                    f"[{bb}] vanilla + linear falls as k grows",
                    bool(falls),
                    "vanilla+linear: "
                    + ", ".join(f"k={k}: {a:.3f}" for k, a in zip(mks, van, strict=True)),
                )
            )
            big = [(a, v) for k, a, v in zip(mks, att, van, strict=True) if k > n]
            if big:
                out.append(
                    (
                        f"[{bb}] memory + attention > vanilla + linear for k > n",
                        all(a > v for a, v in big),
                        ", ".join(f"{a:.3f} vs {v:.3f}" for a, v in big),
                    )
                )
    return out


# ------------------------------------------------------------------------- outputs


def _write_csv(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


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
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    png, svg = out_dir / "figure.png", out_dir / "figure.svg"
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)
    return png, svg


def _html(
    rows: list[dict],
    preset: Preset,
    device: str,
    wall: float,
    png: Path,
    out_dir: Path,
    robust: list[dict] = (),
) -> Path:
    e = html.escape
    shape = assess_shape(rows)
    holds_all = all(h for _, h, _ in shape)
    verdict = (
        "The paper's qualitative shape HOLDS in this run."
        if holds_all
        else "The paper's qualitative shape does NOT fully hold in this run; see the failing lines."
    )
    img = base64.b64encode(png.read_bytes()).decode()
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ptverify reproduce</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ddd}.ok{color:#070}.bad{color:#b00}</style></head><body>",
        f"<h1>Reproduction of Wei, Xie &amp; Ma (2021), §8 — preset {e(preset.name)}</h1>",
        f"<p>device {e(str(device))}; wall time {wall:.1f} s; n = {N_TOKENS} tokens; input length "
        f"T = {preset.length}; {preset.n_train}/{preset.n_val}/{preset.n_test} train/val/test.</p>",
        f"<h2 class='{'ok' if holds_all else 'bad'}'>{e(verdict)}</h2><ul>",
    ]
    for stmt, ok, nums in shape:
        lines.append(
            f"<li class='{'ok' if ok else 'bad'}'>{'holds' if ok else 'does not hold'}: "
            f"{e(stmt)} — {e(nums)}</li>"
        )
    lines.append("</ul>")
    lines.append(
        f"<img alt='accuracy vs number of hidden states' src='data:image/png;base64,{img}'>"
    )
    lines.append(
        "<p>Figure files: <a href='figure.svg'>figure.svg</a>, "
        "<a href='figure.png'>figure.png</a>; raw rows: <a href='results.csv'>results.csv</a>.</p>"
    )
    lines.append(
        "<h2>Mean test accuracy</h2><table><tr><th>experiment</th><th>backbone</th>"
        "<th>method</th><th>k</th><th>mean</th><th>std</th><th>seeds</th></tr>"
    )
    for (exp, bb, m, k), (mean, std, cnt) in summarize(rows).items():
        lines.append(
            f"<tr><td>{e(exp)}</td><td>{e(bb)}</td><td>{e(m)}</td><td>{k}</td>"
            f"<td>{mean:.3f}</td><td>{std:.3f}</td><td>{cnt}</td></tr>"
        )
    lines.append("</table>")
    tvs = sorted(
        {
            (int(r["k"]), int(r["seed"]), r["tv"])
            for r in rows
            if r["backbone"] == "transformer" and r["tv"] != ""
        }
    )
    if tvs:
        lines.append(
            "<h2>Transformer MLM (pretrained on the vanilla HMM) vs oracle: mean TV "
            "½‖Ĝ−G‖₁ of the mask probe on held-out test inputs</h2><ul>"
        )
        for k, seed, tv in tvs:
            lines.append(f"<li>k={k} seed={seed}: TV = {e(str(tv))}</li>")
        lines.append("</ul>")
    if robust:
        lines.append(
            "<h2>head.robust against the trained MLM (k ≤ n)</h2><p>Inputs with "
            "|μᵀp(x)| &gt; ε(x)‖b*‖<sub>∞</sub> (ε = ‖Ĝ−G‖₁) must keep the sign of b*ᵀĜ.</p><ul>"
        )
        for r in robust:
            ok = r["violations"] == 0
            lines.append(
                f"<li class='{'ok' if ok else 'bad'}'>k={r['k']} seed={r['seed']}: "
                f"{r['covered']} inputs covered, {r['violations']} violations "
                f"(mean TV {r['tv']:.3f})</li>"
            )
        lines.append("</ul>")
    cfg = {k: v for k, v in asdict(preset.mlm).items()}
    lines.append(f"<h2>MLM configuration</h2><pre>{e(repr(cfg))}</pre></body></html>")
    path = out_dir / "index.html"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".index.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)
    return path


def reproduce(
    preset: str | Preset,
    device: str = "auto",
    out_dir: Path | str = "reproduce",
    progress: bool = True,
) -> Path:
    """Run §8's experiments with the named preset ("smoke", "small", "paper", or a
    :class:`Preset`); write results.csv, figure.png/svg and index.html into ``out_dir``;
    return the path of index.html. MLM checkpoints go to ``out_dir/checkpoints`` (a rerun
    resumes them)."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset = {preset!r} is unknown; use one of {sorted(PRESETS)}")
        preset = PRESETS[preset]
    elif not isinstance(preset, Preset):
        raise ValueError(
            f"preset must be a name in {sorted(PRESETS)} or a Preset, got {type(preset).__name__}"
        )
    dev = str(resolve_device(device))
    need = preset.mlm_prompt_len + 1 + preset.length
    if preset.transformer_ks or preset.memory_transformer_seeds:
        if preset.mlm.max_len < max(need, preset.length):
            raise ValueError(
                f"preset {preset.name}: mlm.max_len = {preset.mlm.max_len} must be ≥ "
                f"mlm_prompt_len + 1 + length = {need}"
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    runner = _Runner(preset, dev, out_dir, progress)
    runner.run()
    _write_csv(runner.rows, out_dir / "results.csv")
    png, _ = _figure(runner.rows, out_dir)
    path = _html(runner.rows, preset, dev, time.perf_counter() - t0, png, out_dir, runner.robust)
    _log(f"done in {time.perf_counter() - t0:.0f}s: {path}", progress)
    return path


__all__ = ["COLUMNS", "PRESETS", "Preset", "assess_shape", "reproduce", "summarize"]
