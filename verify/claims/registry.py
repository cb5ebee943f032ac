"""The claims registry: one :class:`Claim` per THEORY.md §5 statement, user claims alike.

A claim is a property of generated *instances* (dicts of models, arrays and numbers)
decided by a ``check(instance) -> Outcome`` function. Built-in and user claims register
through the same decorator::

    from hypothesis import strategies as st
    from verify.claims import Outcome, claim

    @claim(
        "user.example",
        provenance="extension",
        kind="universal",
        statement="every generated HMM ... recovers",
        strategy=lambda: st.fixed_dictionaries({"x": st.integers(1, 3)}),
        oracles=("witness", "lp"),
        examples={"ci": 50, "dev": 200, "thorough": 2000},
    )
    def check(instance: dict) -> Outcome:
        return Outcome.passed(quantities={"x": instance["x"]})

``strategy`` is a zero-argument factory so that importing the registry never imports the
strategies. Built-in claims type their instances: ``@claim(..., instance=HeadTask)`` with a
frozen dataclass of :mod:`strategies.instance` (generated in ``strategies/*_claims.py``);
the registered claim still speaks dicts to the harness (see :func:`claim`).
Workers of a parallel run find claims by ID: they import the same modules (built-ins plus
every ``--claims-from`` module) and look the ID up here, so claims never need pickling.

Outcome of one instance (``Outcome.status``):

- ``pass``: the property held on this instance (universal / implication / statistical);
- ``fail``: a counterexample (for universal claims this includes a witness/LP disagreement);
- ``witness``: an existential claim's witness was found on this instance;
- ``miss``: an existential claim's search continues (this instance is not a witness);
- ``discard``: ill-posed (e.g. margin γ = 0 on the input set) — counted, never a pass;
- ``inconclusive``: an oracle could not decide (solver failure) — counted, never a pass.

Coverage: an outcome also says whether the instance *exercised* the claim's premise
(``exercised``: e.g. prompt.robust needs some input with ``|μᵀp(x)| > ℓ`` on a model
violating C-HEAD), its ``sizes`` (k, n, T, B, L, m, s, N …) and ``targets`` — quantities
the runner hands to ``hypothesis.target`` (maximised), so generation spends its budget
where a theorem is tight. A universal claim whose passes mostly did not exercise the
premise is reported ``vacuous`` (see :mod:`verify.harness.runner`), never held.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, is_dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import numpy as np

from verify.core.models import HMM, MemoryHMM, model_from_dict
from verify.core.validation import InputError

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from strategies.instance import Instance

_Check = TypeVar("_Check", bound="Callable[..., Outcome]")

KINDS = ("universal", "existential", "implication", "statistical")
PROFILES = ("ci", "dev", "thorough")


class OutcomeStatus(str, Enum):
    """What one example showed; compares equal to its string (``"pass" == PASS``)."""

    PASS = "pass"
    FAIL = "fail"
    WITNESS = "witness"
    MISS = "miss"
    DISCARD = "discard"
    INCONCLUSIVE = "inconclusive"


class ClaimStatus(str, Enum):
    """What a run of one claim showed, as written to results.json (in report order)."""

    HELD = "held"
    FOUND = "found"
    FALSIFIED = "falsified"
    NOT_FOUND = "not_found"
    ERROR = "error"
    INCONCLUSIVE = "inconclusive"
    VACUOUS = "vacuous"


OUTCOME_STATUSES = tuple(s.value for s in OutcomeStatus)
CLAIM_STATUSES = tuple(s.value for s in ClaimStatus)
#: Claim statuses that fail the gate (exit 1); inconclusive and vacuous give exit 3.
FAILING_STATUSES = (
    ClaimStatus.FALSIFIED.value,
    ClaimStatus.NOT_FOUND.value,
    ClaimStatus.ERROR.value,
)

#: The modules holding the THEORY §5 claims (imported first by :func:`load_builtin`).
BUILTIN_MODULES = ("verify.claims.head", "verify.claims.prompt", "verify.claims.memory")


# --------------------------------------------------------------------------- outcome


@dataclass(frozen=True)
class Outcome:
    """What ``check`` concluded on one instance.

    quantities: condition numbers of this instance (σ_min, margins, leakage …), floats;
    their distributions are reported per claim. exercised: whether the instance met the
    claim's premise in a way that could have failed (None: the check does not say).
    sizes: instance sizes (``k``, ``n``, ``T``, ``B`` …). targets: label → value that
    Hypothesis maximises (e.g. ``-log10 σ_min``). detail: JSON-serialisable explanation
    shown on the counterexample / witness page (keys ``task``, ``inputs`` (list of row
    dicts), ``certificate``, ``head`` … are rendered specially, anything else as JSON).
    """

    status: str
    message: str = ""
    quantities: Mapping[str, float] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)
    exercised: bool | None = None
    sizes: Mapping[str, float] = field(default_factory=dict)
    targets: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in OUTCOME_STATUSES:
            raise InputError(f"Outcome.status {self.status!r} not in {OUTCOME_STATUSES}")

    @classmethod
    def passed(cls, message: str = "", **kw: Any) -> Outcome:
        return cls("pass", message, **kw)

    @classmethod
    def failed(cls, message: str, **kw: Any) -> Outcome:
        return cls("fail", message, **kw)

    @classmethod
    def witness(cls, message: str, **kw: Any) -> Outcome:
        return cls("witness", message, **kw)

    @classmethod
    def miss(cls, message: str = "", **kw: Any) -> Outcome:
        return cls("miss", message, **kw)

    @classmethod
    def discard(cls, message: str, **kw: Any) -> Outcome:
        return cls("discard", message, **kw)

    @classmethod
    def inconclusive(cls, message: str, **kw: Any) -> Outcome:
        return cls("inconclusive", message, **kw)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "quantities": {k: _float(v) for k, v in self.quantities.items()},
            "detail": to_jsonable(dict(self.detail)),
            "exercised": self.exercised,
            "sizes": {k: _float(v) for k, v in self.sizes.items()},
            "targets": {k: _float(v) for k, v in self.targets.items()},
        }


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def is_instance(value: object) -> TypeGuard[dict | Instance]:
    """Whether ``value`` is a claim instance the harness can run and save: a dict, or a
    claim-instance dataclass (:class:`strategies.instance.Instance`, saved as its
    ``as_dict()``)."""
    return isinstance(value, dict) or (is_dataclass(value) and hasattr(value, "as_dict"))


def instance_sizes(instance: Mapping[str, object] | Instance) -> dict[str, float]:
    """Sizes read off an instance, for claims whose outcomes report none (user claims):
    ``k`` and ``n`` of its first HMM (``k = m**N · s`` for a memory HMM), ``T`` and ``B``
    of its first 2-D integer array ``(B, T)`` of inputs, and any top-level integer ``k``,
    ``n``, ``T``, ``L``, ``m``, ``s``, ``N`` (these win). A claim instance dataclass is read
    through its ``as_dict()`` form."""
    items = instance if isinstance(instance, Mapping) else instance.as_dict()
    out: dict[str, float] = {}
    for value in items.values():
        if isinstance(value, HMM) and "k" not in out:
            out.update(k=value.n_states, n=value.n_tokens)
        elif isinstance(value, MemoryHMM) and "k" not in out:
            k = value.n_values**value.n_cells * value.n_ordinary
            out.update(k=k, n=value.n_tokens, m=value.n_values, N=value.n_cells)
        elif (
            isinstance(value, np.ndarray)
            and value.ndim == 2
            and value.dtype.kind in "iu"
            and "T" not in out
        ):
            out.update(T=int(value.shape[1]), B=int(value.shape[0]))
    for name in ("k", "n", "T", "L", "m", "s", "N"):
        v = items.get(name)
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[name] = int(v)
    return out


# --------------------------------------------------------------------------- claim


@dataclass(frozen=True)
class Claim:
    """One registered claim.

    id: THEORY §5 ID (``head.exact``) or a user ID. provenance: the THEORY marking of the
    claim's section, ``"after Thm N"`` or ``"extension"`` (built-ins: from
    :data:`BUILTIN_PROVENANCE`; user claims say it themselves, default ``"user claim"``).
    section: the THEORY §5 claim ID whose section states it (built-ins; "" for user claims).
    theorem: kept for results files of schema v2; equals ``provenance`` unless a user claim
    sets it. kind: universal | existential | implication | statistical. statement: one sentence.
    strategy: zero-argument factory returning a Hypothesis strategy of instance dicts (or of
    :class:`strategies.instance.Instance` dataclasses, with ``instance``)
    (statistical claims: ``None``; their instances are ``{"seed": s}`` for fixed seeds).
    oracles: names of the deciders the check compares (``witness``, ``lp`` …).
    examples: examples (statistical: seeds) per runner profile ``ci|dev|thorough``.
    thresholds: named numbers the check uses, reported with the result.
    min_decided: fraction of generated examples that must be decided (pass) for a
    universal claim to count as held; below it the claim is inconclusive.
    min_exercised: fraction of the passes (of a universal or implication claim whose check
    reports ``exercised``) that must have exercised the premise; below it: ``vacuous``.
    routes: the independent computations the check compares (``ptverify list`` shows them).
    """

    id: str
    theorem: str
    kind: str
    statement: str
    check: Callable[[dict], Outcome]
    provenance: str = ""
    section: str = ""
    strategy: Callable[[], Any] | None = None
    strategy_name: str = ""
    oracles: tuple[str, ...] = ()
    examples: Mapping[str, int] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_decided: float = 0.5
    min_exercised: float = 0.8
    routes: tuple[str, ...] = ()
    module: str = ""

    def budget(self, profile: str) -> int:
        if profile not in PROFILES:
            raise InputError(f"profile {profile!r} unknown; choose one of {PROFILES}")
        default = {"ci": 50, "dev": 200, "thorough": 2000}[profile]
        return int(self.examples.get(profile, default))

    def describe(self) -> dict:
        return {
            "id": self.id,
            "theorem": self.theorem,
            "provenance": self.provenance,
            "section": self.section,
            "kind": self.kind,
            "statement": self.statement,
            "strategy": self.strategy_name,
            "oracles": list(self.oracles),
            "examples": dict(self.examples),
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "routes": list(self.routes),
            "min_exercised": float(self.min_exercised),
            "module": self.module,
        }


_REGISTRY: dict[str, Claim] = {}
#: Module name → how the user named it (dotted name or .py path), for case files.
_SOURCES: dict[str, str] = {}


def module_source(module: str) -> str | None:
    """How to load ``module`` again (``--claims-from`` spec); None for built-ins."""
    if module.startswith("verify.claims."):
        return None
    return _SOURCES.get(module, module)


def module_fingerprint(module: str) -> tuple[str | None, str | None]:
    """(absolute file, sha256 of its bytes) of a loaded user claims module; (None, None)
    for built-ins or a module without a file. Case files store both, so ``replay`` finds
    the module from any directory and says when it changed since the case was saved."""
    if module_source(module) is None:
        return None, None
    path = getattr(sys.modules.get(module), "__file__", None)
    if not path:
        return None, None
    return str(Path(path).resolve()), file_sha256(path)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def register(c: Claim) -> Claim:
    """Add ``c`` to the registry; re-registering the same ID from the same module replaces
    it (module reloads), from another module is an error."""
    if c.kind not in KINDS:
        raise InputError(f"claim {c.id!r}: kind {c.kind!r} not in {KINDS}")
    if not c.id or any(ch.isspace() for ch in c.id) or "/" in c.id:
        raise InputError(f"claim id {c.id!r}: must be non-empty, no spaces or '/'")
    if not 0.0 <= c.min_exercised <= 1.0:
        raise InputError(f"claim {c.id!r}: min_exercised must be in [0, 1], got {c.min_exercised}")
    if c.kind != "statistical" and c.strategy is None:
        raise InputError(f"claim {c.id!r}: a {c.kind} claim needs a strategy factory")
    for p, n in c.examples.items():
        if p not in PROFILES or int(n) < 1:
            raise InputError(f"claim {c.id!r}: examples[{p!r}] = {n!r}; profiles {PROFILES}")
    c = _with_provenance(c)
    old = _REGISTRY.get(c.id)
    if old is not None and old.module != c.module and not _same_file(old.module, c.module):
        raise InputError(f"claim id {c.id!r} already registered by module {old.module!r}")
    _REGISTRY[c.id] = c
    return c


def _with_provenance(c: Claim) -> Claim:
    """``c`` with its provenance and THEORY section filled in: a built-in's from
    :data:`BUILTIN_PROVENANCE` (a built-in stating another is an error), a user claim's
    provenance defaulting to "user claim"; ``theorem`` defaults to the provenance."""
    if c.id in BUILTIN_PROVENANCE and c.module.startswith("verify.claims."):
        section = BUILTIN_SECTIONS.get(c.id, c.id)
        prov = BUILTIN_PROVENANCE[section]
        if c.provenance and c.provenance != prov:
            raise InputError(f"claim {c.id!r}: provenance {c.provenance!r}, THEORY says {prov!r}")
        c = replace(c, provenance=prov, section=section)
    elif not c.provenance:
        c = replace(c, provenance="user claim")
    return c if c.theorem else replace(c, theorem=c.provenance)


def _same_file(a: str, b: str) -> bool:
    """Whether modules ``a`` and ``b`` were loaded from one file (a path and a dotted name)."""
    fa = getattr(sys.modules.get(a), "__file__", None)
    fb = getattr(sys.modules.get(b), "__file__", None)
    if not fa or not fb:
        return False
    return Path(fa).resolve() == Path(fb).resolve()


def claim(
    id: str,  # noqa: A002 - the claim's ID is its name everywhere
    *,
    kind: str,
    statement: str,
    provenance: str = "",
    theorem: str = "",
    strategy: Callable[[], SearchStrategy[object]] | None = None,
    strategy_name: str = "",
    oracles: tuple[str, ...] = (),
    examples: Mapping[str, int] | None = None,
    thresholds: Mapping[str, float] | None = None,
    min_decided: float = 0.5,
    min_exercised: float = 0.8,
    routes: tuple[str, ...] = (),
    instance: type[Instance] | None = None,
) -> Callable[[_Check], _Check]:
    """Decorator registering ``check`` as claim ``id`` (see the module docstring).

    ``instance``: the claim's instance dataclass (:class:`strategies.instance.Instance`),
    for a check typed on it and a strategy drawing it. The runner hands the drawn instance
    to the check as is and saves its ``as_dict()`` form in case files (the keys a dict
    instance would have); the registered check also takes that dict form (a replayed or
    pinned case, a hand-written ``{"seed": 0}``), read back with ``instance.from_dict``.
    The strategy is not wrapped: a ``.map`` around it would change Hypothesis's span tree,
    hence its generation, and with it every ci example."""

    def deco(check: _Check) -> _Check:
        registered: Callable[[dict], Outcome] = check
        if instance is not None:
            registered = _decoding(check, instance)
        register(
            Claim(
                id=id,
                theorem=theorem,
                provenance=provenance,
                kind=kind,
                statement=statement,
                check=registered,
                strategy=strategy,
                strategy_name=strategy_name or getattr(strategy, "__doc__", None) or "",
                oracles=tuple(oracles),
                examples=dict(examples or {}),
                thresholds=dict(thresholds or {}),
                min_decided=min_decided,
                min_exercised=min_exercised,
                routes=tuple(routes),
                module=check.__module__,
            )
        )
        return check

    return deco


def _decoding(check: Callable[..., Outcome], instance: type[Instance]) -> Callable[[dict], Outcome]:
    def decoded(d: dict) -> Outcome:
        return check(instance.from_dict(d))

    decoded.__doc__, decoded.__module__ = check.__doc__, check.__module__
    return decoded


def load_builtin() -> None:
    """Import every claim family of this package: the §5 families in BUILTIN_MODULES, then
    any other public module of ``verify.claims`` (a new family is a new module here)."""
    import pkgutil

    import verify.claims as pkg

    extra = sorted(
        f"verify.claims.{m.name}"
        for m in pkgutil.iter_modules(pkg.__path__)
        if not m.name.startswith("_") and m.name != "registry"
    )
    for mod in dict.fromkeys([*BUILTIN_MODULES, *extra]):
        importlib.import_module(mod)


def load_claims_module(spec: str) -> str:
    """Import a user claims module by dotted name or by ``.py`` path; return its name.

    The current directory is put on ``sys.path`` (as ``python -m`` does) so a module next
    to the user's working directory is found, in the main process and in workers alike.
    """
    if not spec:
        raise InputError("--claims-from: empty module name")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        if not path.is_file():
            raise InputError(f"--claims-from: file {spec!r} does not exist")
        name = f"ptverify_user_{path.stem}"
        _SOURCES[name] = str(path)
        if name in sys.modules:
            return name
        mspec = importlib.util.spec_from_file_location(name, path)
        if mspec is None or mspec.loader is None:
            raise InputError(f"--claims-from: {spec!r} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[name] = module
        try:
            mspec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's module: report, no traceback
            del sys.modules[name]
            raise InputError(f"--claims-from {spec}: {type(exc).__name__}: {exc}") from None
        return name
    try:
        importlib.import_module(spec)
    except ModuleNotFoundError as exc:
        raise InputError(f"--claims-from: cannot import module {spec!r} ({exc})") from None
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's module: report, no traceback
        raise InputError(f"--claims-from {spec}: {type(exc).__name__}: {exc}") from None
    return spec


def get(claim_id: str) -> Claim:
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise InputError(
            f"unknown claim {claim_id!r}; `ptverify list` shows the registered IDs"
        ) from None


def all_claims() -> list[Claim]:
    """Every registered claim: built-ins in THEORY §5 order, then user claims by ID."""
    order = {cid: i for i, cid in enumerate(BUILTIN_ORDER)}
    return sorted(_REGISTRY.values(), key=lambda c: (order.get(c.id, len(order)), c.id))


#: THEORY.md §5 order of the built-in claim IDs; the trained-head claims (not in
#: THEORY §5) follow their theorem's family.
BUILTIN_ORDER = (
    "head.exact",
    "head.rowspace",
    "head.robust",
    "head.necessary",
    "prompt.exact",
    "prompt.weaker",
    "prompt.robust",
    "prompt.multi_token",
    "prompt.multi_token_start",
    "prompt.trained",
    "memory.iid_exact",
    "memory.pool",
    "memory.prompt",
    "memory.prompt_limit",
    "memory.vs_vanilla",
    "memory.attention",
)


#: The THEORY §5 section each built-in claim is checked under, where it is not the claim's
#: own heading (the trained-head and finite-T claims are not THEORY claims of their own).
BUILTIN_SECTIONS = {
    "prompt.trained": "prompt.weaker",  # prompts need less, found by gradient descent
    "memory.prompt_limit": "memory.prompt",  # the asymptotic half of memory.prompt
    "memory.attention": "memory.pool",  # "a learned attention head must do at least as well"
}

#: Provenance of each THEORY §5 section, as its heading marks it (THEORY's Provenance):
#: ``after Thm N`` (our precise version of the paper's Theorem N) or ``extension`` (ours).
#: tests/test_theory.py checks this table against THEORY.md's headings.
BUILTIN_PROVENANCE = {
    "head.exact": "after Thm 3.3",
    "head.rowspace": "extension",
    "head.robust": "after Thm 3.3",
    "head.necessary": "extension",
    "prompt.exact": "after Thm 3.6",
    "prompt.weaker": "after Thm 3.6",
    "prompt.robust": "extension",
    "prompt.multi_token": "extension",
    "prompt.multi_token_start": "extension",
    "memory.iid_exact": "after Thm 4.3",
    "memory.pool": "after Thm 4.3",
    "memory.prompt": "after Thm 4.6",
    "memory.vs_vanilla": "extension",
}
BUILTIN_PROVENANCE.update({cid: BUILTIN_PROVENANCE[sec] for cid, sec in BUILTIN_SECTIONS.items()})


# --------------------------------------------------------------------------- instance codec


def to_jsonable(value: object) -> Any:
    """Plain-JSON form of an instance value: models → their ``to_dict``; arrays →
    ``{"array": nested lists, "dtype": ...}``; tuples → lists; non-finite floats → None; a
    claim instance (:class:`strategies.instance.Instance`) → its ``as_dict()`` form."""
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return to_jsonable(as_dict())
    if isinstance(value, (HMM, MemoryHMM)):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        kind = "int64" if value.dtype.kind in "iub" else "float64"
        arr = value.astype(kind)
        lst = arr.tolist()
        if kind == "float64" and not np.isfinite(arr).all():
            obj = arr.astype(object)
            obj[~np.isfinite(arr)] = None
            lst = obj.tolist()
        return {"array": lst, "dtype": kind}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(value)
    if value is None or isinstance(value, str):
        return value
    return repr(value)


def from_jsonable(value: object, where: str = "instance") -> Any:
    """Inverse of :func:`to_jsonable` with strict validation; errors name the field."""
    if isinstance(value, dict):
        if value.get("kind") in ("hmm", "memory_hmm"):
            return model_from_dict(value, where)
        if set(value) == {"array", "dtype"}:
            if value["dtype"] not in ("int64", "float64"):
                raise InputError(f"{where}.dtype: {value['dtype']!r} not int64/float64")
            try:
                arr = np.asarray(value["array"], dtype=value["dtype"])
            except (TypeError, ValueError) as exc:
                raise InputError(f"{where}.array: not a numeric array ({exc})") from None
            return arr
        return {k: from_jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [from_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InputError(f"{where}: unsupported JSON value {type(value).__name__}")
