"""Phase diagrams: the theorems' conditions and recovery over a grid of instance sizes.

A sweep is a grid of *cells* — one per combination of the axes generator × k × n × T ×
sparsity × nnz — and ``instances`` random instances per cell. For every instance
(``hmm`` with k states and n tokens, task μ, input set 𝒮 of length-T inputs) it records:

- C-HEAD, C-HEAD(μ), C-PROMPT(μ) (with the search method, exact or heuristic) as numbers
  (``verify.conditions``);
- head recoverability on 𝒮: the §6 LP on the mask probe ``G(x)`` (status, certified margin);
- prompt recoverability: when C-PROMPT(μ) holds, its witness ``u = 1_U`` and the §6 LP on
  ``G(u, x)`` (status, certified margin), plus whether the witness's own head recovers;
  without a witness the status is ``no_witness`` (no prompt was tried: not a proof that
  none recovers);
- the task margin γ on 𝒮 and the prompt theorem's bound ``γ / max v``.

Axes: ``sparsity`` is τ_trans for the reference generator (a positive number; smaller is
sparser: the permutation mixture concentrates on one permutation) and the transition style
for the strategies generator (``dense``, ``sparse``, ``permutation``); ``nnz`` is the number
of nonzero task weights of the reference generator's 2×k matrix (|supp μ| ≤ nnz) and the
largest drawn |supp μ| of the strategies generator.

Determinism: instance ``i`` of a cell is drawn from ``SeedSequence(seed, spawn_key=(crc32
(cell key), i))`` (reference) and a cell's Hypothesis run from ``SeedSequence(seed,
spawn_key=(crc32(cell key),))`` (strategies), never from execution order, so every engine
and every worker count gives the same instances and decisions.

Storage: one Parquet file per finished cell under ``OUT/cells/`` (written atomically as the
cell arrives, so an interrupted sweep keeps what finished and a rerun skips those cells),
and ``OUT/results.parquet``, the union in cell order, at the end.
"""

from __future__ import annotations

import math
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from verify.files import atomic_path
from verify.progress import bar as progress_bar
from verify.validation import InputError

GENERATORS = ("reference", "strategies")
#: Grid axes, in the order of a cell's coordinates.
AXES = ("generator", "k", "n", "T", "sparsity", "nnz")
#: Prompts tried per instance: the C-PROMPT witness only, or also every single-state prompt.
PROMPT_MODES = ("witness", "states")
#: Transition styles the strategies generator accepts on the sparsity axis.
STRATEGY_STYLES = ("dense", "sparse", "permutation")
#: Defaults: the paper's τ_trans (THEORY §8), the strategies' sparse style, 6 task weights.
DEFAULT_SPARSITY = {"reference": "0.01", "strategies": "sparse"}
DEFAULT_NNZ = 6
#: Axis sizes above these are refused: C-PROMPT's search and the LPs grow with k and n^T
#: (the input set is sampled above 50,000 sequences, so T only bounds the sample's length).
MAX_K, MAX_N, MAX_T = 64, 64, 256
#: Quantities of the per-cell summary and the heatmaps: (column, title).
QUANTITIES = (
    ("resolved", "instance resolved (γ above float resolution)"),
    ("c_head", "C-HEAD holds"),
    ("c_head_mu", "C-HEAD(μ) holds"),
    ("c_prompt", "C-PROMPT(μ) holds"),
    ("head_recovers", "a linear head recovers (LP on G(x))"),
    ("prompt_recovers", "a tried prompt recovers (LP on G(u, x))"),
    ("prompt_only", "prompt recovers, head does not"),
)
#: An instance is ill-posed (THEORY §3: γ = 0, here at float64 resolution) and discarded
#: when ``γ ≤ GAMMA_RTOL · ‖μ‖∞``. Posteriors carry absolute rounding ~1e-16, and the LP
#: decides at ``ZERO_RTOL = 1e-8`` relative to the features' scale: below this floor a
#: label's sign may be rounding, and even the task's own head b* (margin γ) could not be
#: told apart from no head. The paper's generator produces such instances often (sparse μ,
#: near-deterministic emissions: the posterior sits on states with μ_h = 0).
GAMMA_RTOL = 1e-8
#: Wilson intervals at 95% (z = Φ⁻¹(0.975)).
WILSON_Z = 1.959963984540054
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True, order=True)
class Cell:
    """One grid cell: generator, k hidden states, n tokens, input length T, sparsity (τ_trans
    as a canonical float string, or a transition style), nnz task weights."""

    generator: str
    k: int
    n: int
    T: int
    sparsity: str
    nnz: int

    @property
    def key(self) -> str:
        """Canonical text of the coordinates; its CRC-32 seeds the cell."""
        return (
            f"generator={self.generator};k={self.k};n={self.n};T={self.T};"
            f"sparsity={self.sparsity};nnz={self.nnz}"
        )

    @property
    def file_id(self) -> str:
        """A file name for the cell (coordinates only, no path characters)."""
        sp = re.sub(r"[^0-9A-Za-z.+-]", "_", self.sparsity)
        return f"{self.generator}_k{self.k}_n{self.n}_T{self.T}_s{sp}_z{self.nnz}"

    @property
    def seed_key(self) -> int:
        return zlib.crc32(self.key.encode("utf-8"))


@dataclass(frozen=True)
class SweepConfig:
    """A sweep: axis values (each a non-empty tuple), instances per cell, global seed."""

    generator: tuple[str, ...] = ("reference",)
    k: tuple[int, ...] = (2, 4, 6)
    n: tuple[int, ...] = (3, 5)
    T: tuple[int, ...] = (2,)
    sparsity: tuple[str, ...] = ()
    nnz: tuple[int, ...] = (DEFAULT_NNZ,)
    instances: int = 12
    seed: int = 0
    prompts: str = "witness"

    def cells(self) -> list[Cell]:
        """Every cell, sorted; each generator takes the sparsity values that apply to it."""
        out = []
        for gen in self.generator:
            sparsities = [s for s in self.sparsity if _sparsity_applies(gen, s)] or [
                DEFAULT_SPARSITY[gen]
            ]
            for k in self.k:
                for n in self.n:
                    for T in self.T:
                        for sp in sparsities:
                            for z in self.nnz:
                                out.append(Cell(gen, k, n, T, sp, z))
        return sorted(set(out))

    def identity(self) -> dict:
        """What a resumed sweep must share with the one on disk (axes may grow)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "instances": self.instances,
            "seed": self.seed,
            "prompts": self.prompts,
        }

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _sparsity_applies(generator: str, value: str) -> bool:
    if generator == "strategies":
        return value in STRATEGY_STYLES
    try:
        return math.isfinite(float(value)) and float(value) > 0
    except ValueError:
        return False


def _canonical_sparsity(value: Any, flag: str) -> str:
    text = str(value).strip()
    if text in STRATEGY_STYLES:
        return text
    try:
        tau = float(text)
    except ValueError:
        raise InputError(
            f"{flag}: {text!r} is neither a positive number (τ_trans of the reference "
            f"generator) nor a transition style ({', '.join(STRATEGY_STYLES)})"
        ) from None
    if not math.isfinite(tau) or tau <= 0:
        raise InputError(f"{flag}: τ_trans must be a positive finite number, got {text!r}")
    return repr(tau)


def parse_int_list(text: Any, flag: str, lo: int, hi: int) -> tuple[int, ...]:
    """``"2,4,6"``, ``"2:12"`` (inclusive) or ``"2:30:4"`` (start:stop:step, inclusive) or a
    list of ints (TOML) → sorted distinct ints in [lo, hi]; ValueError naming ``flag``."""
    items: list[int] = []
    parts = text if isinstance(text, (list, tuple)) else str(text).split(",")
    for part in parts:
        if isinstance(part, bool):
            raise InputError(f"{flag}: expected integers, got {part!r}")
        if isinstance(part, int):
            items.append(part)
            continue
        token = str(part).strip()
        if not token:
            continue
        try:
            if ":" in token:
                fields = [int(f) for f in token.split(":")]
                if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] < 1):
                    raise ValueError
                start, stop = fields[0], fields[1]
                step = fields[2] if len(fields) == 3 else 1
                if stop < start:
                    raise ValueError
                items.extend(range(start, stop + 1, step))
            else:
                items.append(int(token))
        except ValueError:
            raise InputError(
                f"{flag}: {token!r} is not an integer list; write e.g. 2,4,6 or 2:12 "
                f"(inclusive range) or 2:30:4 (with a step)"
            ) from None
    if not items:
        raise InputError(f"{flag}: no values given; write e.g. {lo},{lo + 2}")
    bad = [v for v in items if not lo <= v <= hi]
    if bad:
        raise InputError(f"{flag}: {bad[0]} is out of range; values must lie in {lo}..{hi}")
    return tuple(sorted(set(items)))


def _parse_str_list(text: Any, flag: str) -> list[str]:
    parts = text if isinstance(text, (list, tuple)) else str(text).split(",")
    out = [str(p).strip() for p in parts if str(p).strip()]
    if not out:
        raise InputError(f"{flag}: no values given")
    return out


def _sparsities(sparsity: Any, gens: list[str], flag: str) -> tuple[str, ...]:
    """The distinct canonical sparsity values; each generator must have one that applies."""
    out = tuple(
        dict.fromkeys(_canonical_sparsity(s, flag) for s in _parse_str_list(sparsity, flag))
    )
    for g in gens:
        if not any(_sparsity_applies(g, s) for s in out):
            want = "a positive τ_trans" if g == "reference" else "|".join(STRATEGY_STYLES)
            raise InputError(f"{flag}: no value applies to the {g} generator; add {want}")
    return out


def _count(value: Any, flag: str, lo: int) -> int:
    """An integer ≥ lo given as an int or a decimal string (CLI and TOML values)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)):
        raise InputError(f"{flag}: expected an integer ≥ {lo}, got {value!r}")
    try:
        as_int = int(value)
    except ValueError:
        raise InputError(f"{flag}: expected an integer ≥ {lo}, got {value!r}") from None
    if as_int < lo:
        raise InputError(f"{flag}: expected an integer ≥ {lo}, got {as_int}")
    return as_int


def make_config(
    *,
    generator: Any = "reference",
    k: Any = "2,4,6",
    n: Any = "3,5",
    T: Any = "2",
    sparsity: Any = None,
    nnz: Any = DEFAULT_NNZ,
    instances: Any = 12,
    seed: Any = 0,
    prompts: Any = "witness",
    flags: dict[str, str] | None = None,
) -> SweepConfig:
    """Validate raw axis values (CLI strings or TOML lists) into a :class:`SweepConfig`.

    ``flags`` maps each field to the name used in error messages (``--k`` on the command
    line, ``grid.k`` in a TOML file)."""
    names = {f: f"--{f}" for f in ("generator", "k", "n", "T", "sparsity", "nnz")}
    names.update(instances="--instances", seed="--seed", prompts="--prompts")
    names.update(flags or {})
    gens = _parse_str_list(generator, names["generator"])
    for g in gens:
        if g not in GENERATORS:
            raise InputError(
                f"{names['generator']}: {g!r} is unknown; use {' or '.join(GENERATORS)}"
            )
    sparsities = () if sparsity is None else _sparsities(sparsity, gens, names["sparsity"])
    _count(instances, names["instances"], 1)
    _count(seed, names["seed"], 0)
    if prompts not in PROMPT_MODES:
        raise InputError(
            f"{names['prompts']}: {prompts!r} is unknown; use {' or '.join(PROMPT_MODES)}"
        )
    return SweepConfig(
        generator=tuple(dict.fromkeys(gens)),
        k=parse_int_list(k, names["k"], 2, MAX_K),
        n=parse_int_list(n, names["n"], 2, MAX_N),
        T=parse_int_list(T, names["T"], 1, MAX_T),
        sparsity=sparsities,
        nnz=parse_int_list(nnz, names["nnz"], 1, 2 * MAX_K),
        instances=int(instances),
        seed=int(seed),
        prompts=prompts,
    )


#: Keys a TOML sweep file may hold (top level: instances, seed; table [grid]: the axes).
TOML_TOP = ("instances", "seed", "prompts", "grid")
TOML_GRID = ("generator", "k", "n", "T", "sparsity", "nnz")


def load_toml(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> SweepConfig:
    """A sweep from a TOML file::

        instances = 12
        seed = 3
        prompts = "witness"  # or "states"
        [grid]
        k = [2, 4, 6]        # or "2:30:4"
        n = [3, 5]
        T = [2]
        sparsity = [0.01, 0.1]
        nnz = [6]
        generator = ["reference"]

    ``overrides`` (command-line values, None = not given) replace the file's."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser as a package
        import tomli as tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"--config {path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(TOML_TOP))
    if unknown:
        raise InputError(f"--config {path}: unknown key {unknown[0]!r}; use {', '.join(TOML_TOP)}")
    grid = data.get("grid", {})
    if not isinstance(grid, dict):
        raise InputError(f"--config {path}: grid must be a table ([grid])")
    unknown = sorted(set(grid) - set(TOML_GRID))
    if unknown:
        raise InputError(
            f"--config {path}: unknown axis grid.{unknown[0]}; use {', '.join(TOML_GRID)}"
        )
    values: dict[str, Any] = {
        **grid,
        **{k: data[k] for k in ("instances", "seed", "prompts") if k in data},
    }
    flags = {f: f"grid.{f} in {path.name}" for f in TOML_GRID}
    flags.update({f: f"{f} in {path.name}" for f in ("instances", "seed", "prompts")})
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
            flags[name] = f"--{name}"
    return make_config(**values, flags=flags)


# --------------------------------------------------------------------------- instances


def instance_seed(seed: int, cell: Cell, index: int) -> np.random.SeedSequence:
    """The seed of instance ``index`` of ``cell``: a function of coordinates only."""
    return np.random.SeedSequence(int(seed), spawn_key=(cell.seed_key, int(index)))


def reference_instances(cell: Cell, instances: int, seed: int) -> list[tuple[Any, ...]]:
    """``instances`` (hmm, μ, xs) from the paper's generator (THEORY §8): τ_trans from the
    sparsity axis, τ_emit = 0.01, ``min(nnz, 2k)`` task weights, 𝒮 = [n]^T when
    n^T ≤ 50,000 else 512 sampled inputs (``strategies.input_set``)."""
    from strategies.blocks import input_set
    from verify.reference import PAPER_TAU, reference_hmm, reference_task, task_mu

    out = []
    for i in range(instances):
        hmm_ss, task_ss, input_ss = instance_seed(seed, cell, i).spawn(3)
        hmm = reference_hmm(hmm_ss, cell.k, cell.n, float(cell.sparsity), PAPER_TAU)
        mu = task_mu(reference_task(task_ss, cell.k, cell.nnz))
        out.append((hmm, mu, input_set(hmm, cell.T, input_ss)))
    return out


def strategy_instances(cell: Cell, instances: int, seed: int) -> list[tuple[Any, ...]]:
    """Up to ``instances`` TaskInstances from ``strategies.task_instances`` (balanced labels,
    margin floor; transition style from the sparsity axis, |supp μ| ≤ nnz), generated by one
    Hypothesis run seeded from the cell. Fewer when Hypothesis exhausts a small space."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.errors import Unsatisfiable

    from strategies import task_instances

    strategy = task_instances(
        n_states=cell.k,
        n_tokens=cell.n,
        T=cell.T,
        transition_style=cell.sparsity,
        max_support=cell.nnz,
        max_exhaustive=50_000,
    )
    found: list[tuple[Any, ...]] = []

    @settings(
        database=None,
        deadline=None,
        max_examples=instances,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(inst: Any) -> None:
        found.append((inst.hmm, inst.mu, inst.xs))

    cell_seed = np.random.SeedSequence(int(seed), spawn_key=(cell.seed_key,))
    try:
        hypothesis_seed(int(cell_seed.generate_state(1)[0]))(collect)()
    except Unsatisfiable:
        pass  # keep what was generated; the row count says how many
    return found[:instances]


# --------------------------------------------------------------------------- one instance

#: Columns of the results table, in order, with their Arrow/numpy kind.
COLUMNS: dict[str, str] = {
    "generator": "str",
    "k": "int",
    "n": "int",
    "T": "int",
    "sparsity": "str",
    "nnz": "int",
    "cell": "str",
    "instance": "int",
    "status": "str",  # ok | discarded (γ = 0, THEORY §3) | error
    "message": "str",
    "inputs": "int",  # |𝒮|
    "positives": "int",  # inputs with y = +1
    "mu_support": "int",
    "gamma": "float",  # min_x |μᵀp(x)|
    "c_head": "bool",
    "c_head_sigma_min": "float",
    "c_head_mu": "bool",
    "c_head_mu_residual": "float",
    "c_prompt": "bool",
    "c_prompt_method": "str",  # exact | heuristic
    "c_prompt_sigma_min": "float",
    "c_prompt_support": "int",  # |S(U)| of the witness, 0 if none
    "c_prompt_U": "str",
    "c_prompt_v_max": "float",
    "head_lp": "str",  # recoverable | not_recoverable | inconclusive
    "head_margin": "float",  # verified margin (lower bound on t*)
    "head_certificate": "float",  # certificate residual (upper bound on t*)
    "prompt_source": "str",  # witness | neutral | state h: the prompt whose LP is recorded
    "prompt_lp": "str",  # recoverable | not_recoverable | inconclusive | no_witness
    "prompt_margin": "float",
    "prompt_certificate": "float",
    "prompt_witness_exact": "bool",  # the witness's own head b gives the task's signs
    "prompt_margin_bound": "float",  # γ / max v (prompt.exact), NaN without witness
    "head_recovers": "bool",
    "prompt_recovers": "bool",
    "prompt_only": "bool",  # prompt recovers and the LP certifies that no head does
    "resolved": "bool",  # γ > GAMMA_RTOL·‖μ‖∞ (status ok)
    "seconds": "float",
}
_EMPTY = {"str": "", "int": 0, "float": math.nan, "bool": False}


def _condition_row(hmm: Any, mu: np.ndarray) -> tuple[dict[str, Any], Any]:
    """C-HEAD, C-HEAD(μ) and C-PROMPT(μ) columns of a row, and c_prompt's result."""
    from verify.conditions import c_head, c_head_mu, c_prompt

    ch, chm, cp = c_head(hmm), c_head_mu(hmm, mu), c_prompt(hmm, mu)
    return {
        "c_head": ch.holds,
        "c_head_sigma_min": ch.quantities["sigma_min"],
        "c_head_mu": chm.holds,
        "c_head_mu_residual": chm.quantities["residual"],
        "c_prompt": cp.holds,
        "c_prompt_method": cp.method,
        "c_prompt_sigma_min": cp.quantities["sigma_min"],
        "c_prompt_support": int(cp.quantities["support_size"]),
        "c_prompt_U": ",".join(str(h) for h in cp.witness.get("U", ())),
        "c_prompt_v_max": cp.quantities["v_max"],
    }, cp


def _prompt_candidates(
    hmm: Any, mu: np.ndarray, xs: np.ndarray, post: np.ndarray, cp: Any, prompts: str, row: dict
) -> list[tuple[str, np.ndarray]]:
    """The prompts to try, in order (see :func:`evaluate_instance`); records the
    witness's own exactness and margin bound in ``row``."""
    from verify.recovery import prompt_witness

    candidates: list[tuple[str, np.ndarray]] = []
    if cp.holds:
        # C-PROMPT covers only the states with π > 0 (p_h(x) = 0 for every x elsewhere, so
        # μ_h is irrelevant there); the witness is built for μ restricted to them.
        alive = post.max(axis=0) > 0
        w = prompt_witness(hmm, np.where(alive, mu, 0.0), cp.witness["U"])
        y = np.sign(post @ mu)
        row.update(
            prompt_witness_exact=bool(np.all(np.sign(w.decision_values(hmm, xs)) == y)),
            prompt_margin_bound=w.margin_bound(row["gamma"]),
        )
        candidates.append(("witness", w.prompt))
    if prompts == "states":
        k = hmm.n_states
        # u = 1 gives v = R1 = 1, G(u, x) = G(x): a prompt can always do what the head does.
        candidates.append(("neutral", np.ones((1, k))))
        candidates += [(f"state {h}", np.eye(k)[h : h + 1]) for h in range(k)]
    return candidates


def _best_prompt(
    hmm: Any, xs: np.ndarray, y: np.ndarray, candidates: list[tuple[str, np.ndarray]]
) -> tuple[str, Any] | None:
    """(source, LP) of the first recovering prompt, else the best by ``LPResult.rank``; None
    when no candidate is usable."""
    from verify.inference import prompted_mask_probe
    from verify.recovery import RECOVERABLE, max_margin_head

    best = None
    for source, u in candidates:
        try:
            lp = max_margin_head(prompted_mask_probe(hmm, xs, u), y)
        except ValueError:  # the prompt has probability 0 given some input: not usable
            continue
        if best is None or lp.rank() > best[1].rank():
            best = (source, lp)
        if lp.status == RECOVERABLE:
            break
    return best


def evaluate_instance(
    hmm: Any, mu: np.ndarray, xs: np.ndarray, prompts: str = "witness"
) -> dict[str, Any]:
    """Conditions, head and prompt recoverability of one task (hmm, μ (k,), xs (B, T)).

    Prompts tried, in order, until one recovers (LP on ``G(u, x)``): the C-PROMPT(μ)
    witness ``u = 1_U`` when the condition holds; with ``prompts="states"`` also the neutral
    prompt ``u = 1`` (``G(1, x) = G(x)``) and every single-state prompt ``u = e_h``
    (prompt.robust's ε-support witnesses, which the paper's dense but concentrated
    transitions need). The best is recorded; a miss is not a proof that no prompt
    recovers."""
    from verify.inference import mask_probe, posterior_h0
    from verify.recovery import NOT_RECOVERABLE, RECOVERABLE, max_margin_head

    post = posterior_h0(hmm, xs)
    score = post @ mu
    y = np.sign(score)
    gamma = float(np.abs(score).min())
    row: dict[str, Any] = {"inputs": int(len(xs)), "positives": int((y > 0).sum()),
                           "mu_support": int(np.count_nonzero(mu)), "gamma": gamma}  # fmt: skip
    conditions, cp = _condition_row(hmm, mu)
    row.update(conditions)
    if gamma <= GAMMA_RTOL * float(np.abs(mu).max()):
        row.update(
            status="discarded",
            message=f"ill-posed: γ = {gamma:.3g} ≤ {GAMMA_RTOL:g}·‖μ‖∞, some label is below "
            "float64 resolution",
        )
        return row
    head = max_margin_head(mask_probe(hmm, xs), y)
    row.update(
        head_lp=head.status,
        head_margin=head.verified_margin,
        head_certificate=head.certificate_residual,
    )
    best = _best_prompt(hmm, xs, y, _prompt_candidates(hmm, mu, xs, post, cp, prompts, row))
    if best is None:
        row.update(prompt_lp="no_witness")
    else:
        row.update(
            prompt_source=best[0],
            prompt_lp=best[1].status,
            prompt_margin=best[1].verified_margin,
            prompt_certificate=best[1].certificate_residual,
        )
    row.update(
        head_recovers=head.status == RECOVERABLE,
        prompt_recovers=row["prompt_lp"] == RECOVERABLE,
        prompt_only=row["prompt_lp"] == RECOVERABLE and head.status == NOT_RECOVERABLE,
        status="ok",
        resolved=True,
    )
    return row


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to compute one cell (plain data, cheap to send)."""

    cell: Cell
    instances: int
    seed: int
    prompts: str = "witness"


@dataclass
class CellResult:
    """A finished cell: its rows (dicts keyed by COLUMNS) and the worker's wall time."""

    cell: Cell
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    worker: str = ""


def run_cell(task: CellTask) -> CellResult:
    """Generate and evaluate every instance of one cell; an instance that raises becomes a
    row with status ``error`` (its message kept), never a lost cell."""
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    cell = task.cell
    base = {
        "generator": cell.generator, "k": cell.k, "n": cell.n, "T": cell.T,
        "sparsity": cell.sparsity, "nnz": cell.nnz, "cell": cell.key,
    }  # fmt: skip
    make = reference_instances if cell.generator == "reference" else strategy_instances
    rows = []
    # One BLAS thread per worker: the engines give each worker one core, and the same
    # thread count everywhere keeps float rounding, hence decisions, identical.
    with threadpool_limits(1):
        for i, (hmm, mu, xs) in enumerate(make(cell, task.instances, task.seed)):
            t1 = time.perf_counter()
            try:
                row = evaluate_instance(hmm, mu, xs, task.prompts)
            except Exception as exc:  # noqa: BLE001 - a crash is a recorded finding
                row = {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:500]}
            rows.append(_complete({**base, "instance": i, **row}, time.perf_counter() - t1))
    return CellResult(cell, rows, time.perf_counter() - t0, f"{os.uname().nodename}:{os.getpid()}")


def _complete(row: dict, seconds: float) -> dict:
    out = {}
    for name, kind in COLUMNS.items():
        value = row.get(name, _EMPTY[kind])
        if kind == "float":
            value = float(value)
        elif kind == "int":
            value = int(value)
        elif kind == "bool":
            value = bool(value)
        else:
            value = str(value)
        out[name] = value
    out["seconds"] = float(seconds)
    return out


# --------------------------------------------------------------------------- storage


def _arrow_schema() -> Any:
    import pyarrow as pa

    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(name, kinds[kind]) for name, kind in COLUMNS.items()])


def rows_to_table(rows: Sequence[dict]) -> Any:
    """Rows → a pyarrow Table with the fixed schema (also for zero rows)."""
    import pyarrow as pa

    schema = _arrow_schema()
    return pa.table({name: [r[name] for r in rows] for name in COLUMNS}, schema=schema)


def write_table_atomic(table: Any, path: Path) -> Path:
    """Parquet via a temporary file + ``os.replace``: readers never see half a file."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def cell_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.file_id}.parquet"


def _check_manifest(out: Path, config: SweepConfig) -> None:
    """Refuse to mix a sweep into a folder that holds one with another seed or size."""
    import json

    from verify.reports import atomic_write

    manifest = out / "sweep.json"
    want = config.identity()
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text(encoding="utf-8")).get("identity")
        except (OSError, ValueError):
            have = None
        if have != want:
            raise InputError(
                f"--out {out}: it holds a sweep with {have}, not {want}; pass another --out "
                f"or the same --seed and --instances to resume it"
            )
    atomic_write(
        manifest,
        json.dumps({"identity": want, "config": config.to_dict()}, indent=2, sort_keys=True),
    )


# --------------------------------------------------------------------------- the sweep


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did: the rows of every cell of the grid that is on disk, the
    cells computed now / skipped (already on disk) / failed (engine error, retried next
    run), and whether it was interrupted."""

    rows: list[dict]
    computed: list[Cell]
    skipped: list[Cell]
    failed: list[tuple[Cell, str]]
    interrupted: bool
    seconds: float


def run_sweep(
    config: SweepConfig,
    out: str | os.PathLike,
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    progress: bool = True,
    cell_fn: Callable[[CellTask], CellResult] | None = None,
) -> SweepOutcome:
    """Compute every cell of ``config`` not yet in ``out/cells``, writing each as it arrives;
    then write ``out/results.parquet`` (all cells of the grid, in cell order)."""
    from verify import engines

    out = Path(out)
    if engine == "ray":
        engines.import_ray()  # a missing extra is reported before anything is written
    _check_manifest(out, config)
    t0 = time.perf_counter()
    cells = config.cells()
    todo = [c for c in cells if not cell_path(out, c).exists()]
    skipped = [c for c in cells if c not in todo]
    tasks = [CellTask(c, config.instances, config.seed, config.prompts) for c in todo]
    computed: list[Cell] = []
    failed: list[tuple[Cell, str]] = []
    interrupted = False
    bar = progress_bar(len(cells), "sweep", "cell", initial=len(skipped), enabled=progress)
    try:
        for index, result in engines.run_tasks(
            cell_fn or run_cell, tasks, engine=engine, workers=workers, address=address
        ):
            cell = tasks[index].cell
            if isinstance(result, BaseException):
                failed.append((cell, f"{type(result).__name__}: {result}"))
            else:
                write_table_atomic(rows_to_table(result.rows), cell_path(out, cell))
                computed.append(cell)
            bar.update(1)
            bar.set_postfix(failed=len(failed), refresh=False)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    rows = []
    for c in cells:
        if cell_path(out, c).exists():
            rows.extend(read_rows(cell_path(out, c)))
    write_table_atomic(rows_to_table(rows), out / "results.parquet")
    return SweepOutcome(rows, computed, skipped, failed, interrupted, time.perf_counter() - t0)


# --------------------------------------------------------------------------- summaries


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion: the p with
    ``|x/n − p| ≤ z √(p(1 − p)/n)``, i.e. ``(p̂ + z²/2n ± z √(p̂(1−p̂)/n + z²/4n²)) /
    (1 + z²/n)``. (NaN, NaN) for n = 0."""
    if trials < 0 or not 0 <= successes <= trials:
        raise InputError(f"need 0 ≤ successes ≤ trials, got {successes} of {trials}")
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    z2 = z * z
    denom = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denom
    # At x = 0 (x = n) the lower (upper) end is exactly 0 (1); the formula gives it only
    # up to rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def _decided(row: dict, quantity: str) -> bool:
    """Whether a row counts toward a quantity's fraction: ok instances; for LP-based
    quantities only those whose LPs decided (inconclusive is left out, never a 0 or a 1)."""
    if quantity == "resolved":
        return row["status"] in ("ok", "discarded")
    if row["status"] != "ok":
        return False
    if quantity == "head_recovers":
        return row["head_lp"] != "inconclusive"
    if quantity == "prompt_recovers":
        return row["prompt_lp"] != "inconclusive"
    if quantity == "prompt_only":
        return row["head_lp"] != "inconclusive" and row["prompt_lp"] != "inconclusive"
    return True


def summarize(rows: Iterable[dict]) -> list[dict]:
    """Per cell: counts by status and, per quantity, successes / decided with its Wilson
    interval; sorted by cell."""
    by_cell: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["generator"], r["k"], r["n"], r["T"], r["sparsity"], r["nnz"])
        by_cell.setdefault(key, []).append(r)
    out = []
    for key in sorted(by_cell):
        group = by_cell[key]
        rec: dict[str, Any] = dict(
            zip(("generator", "k", "n", "T", "sparsity", "nnz"), key, strict=True)
        )
        rec.update(
            instances=len(group),
            ok=sum(r["status"] == "ok" for r in group),
            discarded=sum(r["status"] == "discarded" for r in group),
            errors=sum(r["status"] == "error" for r in group),
        )
        for q, _title in QUANTITIES:
            decided = [r for r in group if _decided(r, q)]
            hits = sum(bool(r[q]) for r in decided)
            lo, hi = wilson_interval(hits, len(decided))
            frac = hits / len(decided) if decided else math.nan
            rec[q] = {
                "successes": hits,
                "trials": len(decided),
                "fraction": frac,
                "low": lo,
                "high": hi,
            }
        out.append(rec)
    return out


__all__ = [
    "COLUMNS",
    "GENERATORS",
    "QUANTITIES",
    "Cell",
    "CellResult",
    "CellTask",
    "SweepConfig",
    "SweepOutcome",
    "evaluate_instance",
    "instance_seed",
    "load_toml",
    "make_config",
    "parse_int_list",
    "reference_instances",
    "run_cell",
    "run_sweep",
    "strategy_instances",
    "summarize",
    "wilson_interval",
]
