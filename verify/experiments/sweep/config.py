"""A sweep's grid and its configuration: the axes, :class:`Cell`, :class:`SweepConfig`,
and the parsing of CLI flags and TOML files into one (every bad value a named InputError).
"""

from __future__ import annotations

import math
import os
import re
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from verify.core.validation import InputError, as_int
from verify.harness.stats import WILSON_Z  # noqa: F401 - the package re-exports it

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


def _canonical_sparsity(value: object, flag: str) -> str:
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


def parse_int_list(text: object, flag: str, lo: int, hi: int) -> tuple[int, ...]:
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


def _parse_str_list(text: object, flag: str) -> list[str]:
    parts = text if isinstance(text, (list, tuple)) else str(text).split(",")
    out = [str(p).strip() for p in parts if str(p).strip()]
    if not out:
        raise InputError(f"{flag}: no values given")
    return out


def _sparsities(sparsity: object, gens: list[str], flag: str) -> tuple[str, ...]:
    """The distinct canonical sparsity values; each generator must have one that applies."""
    out = tuple(
        dict.fromkeys(_canonical_sparsity(s, flag) for s in _parse_str_list(sparsity, flag))
    )
    for g in gens:
        if not any(_sparsity_applies(g, s) for s in out):
            want = "a positive τ_trans" if g == "reference" else "|".join(STRATEGY_STYLES)
            raise InputError(f"{flag}: no value applies to the {g} generator; add {want}")
    return out


def _count(value: object, flag: str, lo: int) -> int:
    """An integer ≥ lo given as an int or a decimal string (CLI and TOML values): a string
    is parsed, then :func:`~verify.core.validation.as_int` decides (type and range)."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InputError(f"{flag}: expected a whole number ≥ {lo}, got {value!r}") from None
    return as_int(value, flag, lo)


def make_config(
    *,
    generator: object = "reference",
    k: object = "2,4,6",
    n: object = "3,5",
    T: object = "2",
    sparsity: object = None,
    nnz: object = DEFAULT_NNZ,
    instances: object = 12,
    seed: object = 0,
    prompts: object = "witness",
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
    n_instances = _count(instances, names["instances"], 1)
    seed_int = _count(seed, names["seed"], 0)
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
        instances=n_instances,
        seed=seed_int,
        prompts=prompts,
    )


#: Keys a TOML sweep file may hold (top level: instances, seed; table [grid]: the axes).
TOML_TOP = ("instances", "seed", "prompts", "grid")
TOML_GRID = ("generator", "k", "n", "T", "sparsity", "nnz")


def load_toml(path: str | os.PathLike, overrides: dict[str, object] | None = None) -> SweepConfig:
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
