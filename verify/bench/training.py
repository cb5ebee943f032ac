"""Training throughput (tokens/s) of the transformer MLM's pretraining and of prompt tuning
(on the exact oracle and on the MLM), on CPU and on CUDA when available.

Pretraining tokens/s is measured on the optimisation loop alone (fresh window sampling
included; set-up, TV evaluations and the first ``warmup`` steps excluded, so
``torch.compile``'s compilation and CUDA's lazy initialisation are reported apart, as
``warm-up s``), on CPU with 1 and with 2 torch threads (on a loaded machine 1 thread wins by
far: idle threads spin at every barrier), on CUDA in float32, with bfloat16 autocast, and
with autocast + ``torch.compile`` (inductor). On CPU with ``quick``, 1 thread only and
bf16 autocast + ``torch.compile(backend="eager")``: it checks that the training forward
traces under autocast (the path CUDA runs) without paying for inductor's C++ build. Every
figure is the best of ``repeat`` runs, so other load on the machine biases it as little as
possible. Prompt-tuning tokens/s counts every input token of every training example per
epoch (``(L + 1 + T)`` positions through the frozen transformer; T for the oracle), with
validation included in the wall time.

``run(device=..., sizes=...)`` picks the devices ("auto": CPU, and CUDA when available) and
the encoder sizes (the ``smoke``, ``small`` and ``paper`` presets' MLMs; default small and
paper), so ``scripts/device-check.sh`` measures CUDA alone at paper size and its
``--cpu-dry-run`` runs the same code on CPU at smoke size.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from verify.core import task
from verify.core.generator import reference_hmm, reference_task, task_mu
from verify.core.validation import InputError
from verify.experiments.mlm import MLMConfig, WindowSampler, _lr_factor, _new_model, _train_step
from verify.experiments.reproduce import PRESETS
from verify.recovery.training import (
    Split,
    Splits,
    TrainConfig,
    deterministic,
    resolve_device,
    train_prompt,
    train_prompt_mlm,
)

#: The presets' encoders and pretraining windows, by preset name.
SIZES = {name: PRESETS[name].mlm for name in ("smoke", "small", "paper")}
DEFAULT_SIZES = ("small", "paper")


def _splits(hmm, mu, n_train: int, T: int) -> Splits:
    return task.splits(hmm, mu, (n_train, max(n_train // 5, 10), 10), T, seed=0)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


@contextlib.contextmanager
def _restore_cudnn_sdp(enabled: bool):
    try:
        yield
    finally:
        torch.backends.cuda.enable_cudnn_sdp(enabled)


def pretrain_rate(
    hmm, cfg: MLMConfig, dev: torch.device, warmup: int, steps: int, amp: bool, backend=None
) -> tuple[float, float]:
    """(tokens/s over ``steps`` steps after ``warmup`` steps, seconds of the warm-up) of
    :func:`~verify.mlm.pretrain_mlm`'s optimisation loop (its sampler, model, AdamW schedule
    and step; no EMA, evaluations or checkpoints); ``backend``: ``torch.compile`` the
    forward with it (None: eager; "no-cudnn-sdp": eager with cuDNN's attention kernels
    off)."""
    cfg = replace(cfg, steps=warmup + steps)
    net = _new_model(hmm.n_tokens, cfg).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    forward: Callable[..., torch.Tensor] = net  # the module, or its torch.compile wrapper
    cudnn_sdp = torch.backends.cuda.cudnn_sdp_enabled()
    if backend == "no-cudnn-sdp":  # eager, without cuDNN's attention (a plan per shape)
        torch.backends.cuda.enable_cudnn_sdp(False)
    elif backend is not None:
        forward = torch.compile(net, backend=backend)
    sampler = WindowSampler(hmm, cfg, dev)
    net.train()
    tokens, t = 0, [time.perf_counter()]
    with deterministic(), _restore_cudnn_sdp(cudnn_sdp):
        for step in range(warmup + steps):
            if step == warmup:
                _sync(dev)
                t.append(time.perf_counter())
            batch = sampler.batch(step)
            _train_step(forward, net, opt, sched, batch, amp)  # .item(): one sync per step
            tokens += int(batch[0].numel()) if step >= warmup else 0
        _sync(dev)
    t.append(time.perf_counter())
    return tokens / (t[2] - t[1]), t[1] - t[0]


def _variants(dev: str, quick: bool) -> list[tuple[str, bool, str | None, int | None]]:
    """(label, bf16 autocast?, compile backend, torch threads) measured on ``dev``."""
    if dev == "cpu":
        if quick:  # the CUDA path's autocast + compile, traced only (see the module doc);
            # no 2-thread run: on a busy 2-core machine it crawls (spinning threads)
            return [
                ("1 thread", False, None, 1),
                ("bf16 autocast + compile (eager backend), 1 thread", True, "eager", 1),
            ]
        return [("1 thread", False, None, 1), ("2 threads", False, None, 2)]
    return [
        ("float32", False, None, None),
        ("bf16 autocast", True, None, None),
        ("bf16 autocast, cuDNN attention off", True, "no-cudnn-sdp", None),
        ("bf16 autocast + compile", True, "inductor", None),
    ]


def run(quick: bool = False, device: str = "auto", sizes: tuple[str, ...] | None = None) -> None:
    """Print the throughputs on ``device`` ("auto": CPU, then CUDA when available) for the
    encoders of ``sizes`` (preset names; default small and paper)."""
    sizes = DEFAULT_SIZES if sizes is None else tuple(sizes)
    bad = [s for s in sizes if s not in SIZES]
    if bad or not sizes:
        raise InputError(f"sizes = {bad or sizes!r}: use names from {sorted(SIZES)}")
    if device == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [resolve_device(device).type]
    k, T = 12, 32
    hmm = reference_hmm(0, k)
    mu = task_mu(reference_task(0, k))
    (warmup, steps), repeat = ((5, 20), 1) if quick else ((10, 30), 3)
    print(
        f"bench training: k={k} n=10 (paper generator, seed 0); torch threads "
        f"{torch.get_num_threads()}; devices {devices}; sizes {list(sizes)}; "
        f"{warmup} warm-up + {steps} timed steps, best of {repeat}",
        flush=True,
    )
    threads0 = torch.get_num_threads()
    for dev in devices:
        for name in sizes:
            cfg = SIZES[name]
            if quick and name == "paper" and dev == "cpu" and device == "auto":
                continue
            for label, amp, backend, threads in _variants(dev, quick):
                torch.set_num_threads(threads or threads0)
                try:
                    runs = [
                        pretrain_rate(hmm, cfg, torch.device(dev), warmup, steps, amp, backend)
                        for _ in range(repeat)
                    ]
                finally:
                    torch.set_num_threads(threads0)
                rate, warm = max(runs)
                print(
                    f"  [{dev}] MLM pretraining, {name} size (d={cfg.d_model}, "
                    f"{cfg.n_layers} layers, ~{cfg.batch_size * cfg.seq_len} tokens/step in "
                    f"{cfg.min_len}–{cfg.seq_len}-token windows), {label}: {rate:,.0f} tokens/s "
                    f"(warm-up {warm:.1f} s)",
                    flush=True,
                )
        n_train, epochs = (200, 3) if quick else (1000, 5)
        sp = _splits(hmm, mu, n_train, T)
        tcfg = TrainConfig(device=dev, max_epochs=epochs, patience=epochs, batch_size=100)
        best = min(train_prompt(hmm, sp, tcfg, n_prompt=2).wall_time_s for _ in range(repeat))
        print(
            f"  [{dev}] prompt tuning, oracle (L=2, T={T}, float64): "
            f"{epochs * n_train * T / best:,.0f} tokens/s",
            flush=True,
        )
        name = "smoke" if sizes == ("smoke",) else "small"
        net = _new_model(hmm.n_tokens, SIZES[name]).to(dev).eval()
        L = 8
        Tm = min(T, SIZES[name].max_len - L - 1)  # the prompt, [MASK] and x fit max_len
        msp = Splits(*(Split(s.xs[:, :Tm], s.y) for s in sp))
        best = min(
            train_prompt_mlm(net, msp, replace(tcfg, lr=0.01), n_prompt=L).wall_time_s
            for _ in range(repeat)
        )
        print(
            f"  [{dev}] prompt tuning, MLM {name} size (L={L}, T={Tm}): "
            f"{epochs * n_train * (L + 1 + Tm) / best:,.0f} tokens/s",
            flush=True,
        )
