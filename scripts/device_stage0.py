"""Stage 0 of scripts/device-check.sh: how long a fresh machine takes to get to work.

Prints, as it goes (so a hang shows where it is): the interpreter, seconds to
``import torch``, to CUDA initialisation (``is_available``, then the first context on the
device), to one bf16 matrix product (first call, with cuBLAS's set-up) and the rate of ten
more, then seconds to import this project's dependencies (the carried wheels). With
``--cpu`` (the dry run) the product runs on CPU and CUDA is not touched.
"""

import argparse
import importlib
import platform
import sys
import time
import warnings

t0 = time.perf_counter()
REPRODUCE = "verify.experiments.reproduce"


def say(msg: str) -> None:
    print(f"[stage0 {time.perf_counter() - t0:6.1f}s] {msg}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu", action="store_true", help="dry run: no CUDA, small product")
    args = ap.parse_args()
    say(f"interpreter {sys.executable} (Python {platform.python_version()})")
    t = time.perf_counter()
    import torch

    say(f"import torch {torch.__version__}: {time.perf_counter() - t:.2f} s")
    if args.cpu:
        dev, n = torch.device("cpu"), 512
        say("CUDA: not touched (--cpu)")
    else:
        t = time.perf_counter()
        ok = torch.cuda.is_available()
        say(f"torch.cuda.is_available() = {ok}: {time.perf_counter() - t:.2f} s")
        if not ok:
            say("no CUDA device: stopping")
            return 1
        t = time.perf_counter()
        torch.cuda.init()
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
        props = torch.cuda.get_device_properties(0)
        say(
            f"CUDA init (first context): {time.perf_counter() - t:.2f} s; "
            f"{props.name}, {props.total_memory / 2**30:.0f} GiB, "
            f"{props.multi_processor_count} SMs, CUDA {torch.version.cuda}"
        )
        dev, n = torch.device("cuda"), 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    t = time.perf_counter()
    (a @ b).sum().item()
    say(f"first bf16 {n}×{n}×{n} product: {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    for _ in range(10):
        c = a @ b
    sync()
    dt = (time.perf_counter() - t) / 10
    say(f"bf16 product: {dt * 1e3:.2f} ms each, {2 * n**3 / dt / 1e12:.1f} TFLOP/s")
    del c
    for mod in ("numpy", "scipy", "cvxpy", "highspy", "flint", "jsonschema", "array_api_compat"):
        t = time.perf_counter()
        try:
            m = importlib.import_module(mod)
        except Exception as exc:  # report every missing one, then fail
            say(f"import {mod}: FAILED ({type(exc).__name__}: {exc})")
            return 1
        with warnings.catch_warnings():  # jsonschema deprecates its __version__
            warnings.simplefilter("ignore")
            version = getattr(m, "__version__", "")
        say(f"import {mod} {version}: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    importlib.import_module(REPRODUCE)
    say(f"import {REPRODUCE} (torch, MLM, training, pages): {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
