"""Training throughput (tokens/s) of the transformer MLM's pretraining and of prompt tuning
(on the exact oracle and on the MLM), on CPU and on CUDA when available.

Pretraining tokens/s is measured on the optimisation loop alone (fresh window sampling
included, set-up and TV evaluations excluded), on CPU with 1 and with 2 torch threads (on a
loaded machine 1 thread wins by far: idle threads spin at every barrier), on CUDA in
float32, with bfloat16 autocast, and with autocast + ``torch.compile``; every figure is the
best of ``repeat`` runs, so other load on the machine biases it as little as possible.
Prompt-tuning tokens/s counts every input token of every training example per epoch
(``(L + 1 + T)`` positions through the frozen transformer; T for the oracle), with
validation included in the wall time.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from verify.core import task
from verify.core.generator import reference_hmm, reference_task, task_mu
from verify.experiments.mlm import MLMConfig, pretrain_mlm
from verify.experiments.reproduce import PRESETS
from verify.recovery.training import Splits, TrainConfig, train_prompt, train_prompt_mlm

#: The ``small`` and ``paper`` presets' encoders and pretraining windows.
SIZES = {"small": PRESETS["small"].mlm, "paper": PRESETS["paper"].mlm}


def _splits(hmm, mu, n_train: int, T: int) -> Splits:
    return task.splits(hmm, mu, (n_train, max(n_train // 5, 10), 10), T, seed=0)


def _pretrain_rate(hmm, cfg: MLMConfig, device: str, steps: int, repeat: int, **kw) -> float:
    rates = []
    for _ in range(repeat):
        _, res = pretrain_mlm(hmm, replace(cfg, steps=steps, eval_every=0), device, **kw)
        rates.append(res.tokens / res.loop_time_s)
    return max(rates)


def _variants(dev: str) -> list[tuple[str, dict, int | None]]:
    """(label, pretrain_mlm keywords, torch threads) measured on ``dev``."""
    if dev == "cpu":
        return [("1 thread", {}, 1), ("2 threads", {}, 2)]
    return [
        ("float32", {"amp": False}, None),
        ("bf16 autocast", {"amp": True}, None),
        ("bf16 autocast + compile", {"amp": True, "compile": True}, None),
    ]


def run(quick: bool = False) -> None:
    k, T = 12, 32
    hmm = reference_hmm(0, k)
    mu = task_mu(reference_task(0, k))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    steps, repeat = (10, 1) if quick else (30, 3)
    print(
        f"bench training: k={k} n=10 (paper generator, seed 0); torch threads "
        f"{torch.get_num_threads()}; devices {devices}"
    )
    threads0 = torch.get_num_threads()
    for dev in devices:
        for name, cfg in SIZES.items():
            if quick and name == "paper" and dev == "cpu":
                continue
            for label, kw, threads in _variants(dev):
                torch.set_num_threads(threads or threads0)
                try:
                    rate = _pretrain_rate(hmm, cfg, dev, steps, repeat, **kw)
                finally:
                    torch.set_num_threads(threads0)
                print(
                    f"  [{dev}] MLM pretraining, {name} size (d={cfg.d_model}, "
                    f"{cfg.n_layers} layers, ~{cfg.batch_size * cfg.seq_len} tokens/step in "
                    f"{cfg.min_len}–{cfg.seq_len}-token windows), {label}: {rate:,.0f} tokens/s",
                    flush=True,
                )
        n_train, epochs = (200, 3) if quick else (1000, 5)
        sp = _splits(hmm, mu, n_train, T)
        cfg = TrainConfig(device=dev, max_epochs=epochs, patience=epochs, batch_size=100)
        best = min(train_prompt(hmm, sp, cfg, n_prompt=2).wall_time_s for _ in range(repeat))
        print(
            f"  [{dev}] prompt tuning, oracle (L=2, T={T}, float64): "
            f"{epochs * n_train * T / best:,.0f} tokens/s"
        )
        net, _ = pretrain_mlm(hmm, replace(SIZES["small"], steps=1), dev)
        L = 8
        best = min(
            train_prompt_mlm(net, sp, replace(cfg, lr=0.01), n_prompt=L).wall_time_s
            for _ in range(repeat)
        )
        print(
            f"  [{dev}] prompt tuning, MLM small size (L={L}, T={T}): "
            f"{epochs * n_train * (L + 1 + T) / best:,.0f} tokens/s"
        )
