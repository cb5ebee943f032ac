"""Training throughput (tokens/s) of the transformer MLM's pretraining and of prompt tuning
(on the exact oracle and on the MLM), on CPU and on CUDA when available.

Pretraining tokens/s is measured on the optimisation loop alone (corpus sampling and
set-up excluded); every figure is the best of ``repeat`` runs, so other load on the
machine biases it as little as possible. Prompt-tuning tokens/s counts every input token
of every training example per epoch (``(L + 1 + T)`` positions through the frozen
transformer; T for the oracle), with validation included in the wall time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..inference import posterior_h0
from ..mlm import MLMConfig, pretrain_mlm, train_prompt_mlm
from ..reference import reference_hmm, reference_task, task_mu
from ..reproduce import PRESETS
from ..training import Split, Splits, TrainConfig, train_prompt

#: The ``small`` and ``paper`` presets' encoders and pretraining windows, each on a small
#: corpus (throughput depends on the network and the batch, not on the corpus size).
SIZES = {
    "small": replace(PRESETS["small"].mlm, batch_size=64, corpus_sequences=64, corpus_length=256),
    "paper": replace(PRESETS["paper"].mlm, corpus_sequences=64, corpus_length=512),
}


def _splits(hmm, mu, n_train: int, T: int) -> Splits:
    out = []
    for i, b in enumerate((n_train, max(n_train // 5, 10), 10)):
        xs, _ = hmm.sample(b, T, np.random.default_rng([0, i]))
        out.append(Split(xs, np.where(posterior_h0(hmm, xs) @ mu > 0, 1.0, -1.0)))
    return Splits(*out)


def _pretrain_rate(hmm, cfg: MLMConfig, device: str, steps: int, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        _, res = pretrain_mlm(hmm, replace(cfg, steps=steps), device)
        rates.append(res.tokens / res.loop_time_s)
    return max(rates)


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
    for dev in devices:
        for name, cfg in SIZES.items():
            if quick and name == "paper" and dev == "cpu":
                continue
            rate = _pretrain_rate(hmm, cfg, dev, steps, repeat)
            print(
                f"  [{dev}] MLM pretraining, {name} size (d={cfg.d_model}, "
                f"{cfg.n_layers} layers, batch {cfg.batch_size}×{cfg.seq_len}): "
                f"{rate:,.0f} tokens/s"
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
