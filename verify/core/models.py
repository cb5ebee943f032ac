"""Generative models of text (THEORY.md §1): the HMM and the memory-augmented HMM.

Layout follows hmmlearn so models move between the two libraries:
``start`` π (k,), ``transition`` A (k, k) with ``A[i, j] = P(H_{t+1}=j | H_t=i)``,
``emission`` E (k, n) with ``E[h, x] = P(X_t=x | H_t=h)``. The paper's emission
matrix is ``W = E.T`` (n, k).

Models are immutable value objects holding validated float64 numpy arrays. The inference
functions also accept :class:`HMMParams` — the same three arrays as numpy or torch
tensors, unvalidated — so gradients can flow into the model's parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from verify.core.validation import (
    SUM_TOL,
    InputError,
    as_cell,
    as_int,
    check_rows_sum_to_one,
    check_size,
    index_array,
    probability_array,
)

#: Largest hidden-state count the exact engine accepts (the product HMM of a memory model
#: included). Beyond it the (k, k) transition alone is over 128 MiB; refuse rather than swap.
MAX_STATES = 4096
#: Largest vocabulary the engine accepts.
MAX_TOKENS = 100_000

#: JSON schema tag written by ``to_json``; ``from_json`` accepts this version.
JSON_VERSION = 1


class HMMParams(NamedTuple):
    """Raw HMM arrays (numpy or torch, any device), unvalidated; what inference runs on.

    start (k,), transition (k, k), emission (k, n).
    """

    start: Any
    transition: Any
    emission: Any


def stationary_distribution(transition: np.ndarray) -> np.ndarray:
    """A stationary law π (k,) of ``transition``: ``π A = π``, π ≥ 0, Σπ = 1.

    First the least-squares system ``[(A - I)ᵀ; 1ᵀ] π = [0; 1]`` (exact for an irreducible
    chain). If its clipped solution is not stationary to 1e-12 (a reducible chain has many
    stationary laws and lstsq may mix them with negative weights), the Cesàro limit of the
    lazy chain ``(A + I)/2`` from the uniform law, by 64 repeated squarings (rows
    renormalised), which always converges to a stationary law. Callers that need a
    particular stationary law of a reducible chain should pass it as ``start``.
    """
    k = transition.shape[0]
    system = np.vstack([transition.T - np.eye(k), np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(system, rhs, rcond=None)
    # Round-off leaves ~1e-16 mass on transient states; posteriors amplify it on unlikely
    # inputs, so it is set to exactly 0 (and kept only if the result is still stationary).
    pi = np.where(pi < 1e-13 * np.abs(pi).max(), 0.0, pi)
    pi = pi / pi.sum()
    if np.abs(pi @ transition - pi).max() <= 1e-12:
        return pi
    lazy = 0.5 * (transition + np.eye(k))
    for _ in range(64):
        lazy = lazy @ lazy
        lazy /= lazy.sum(axis=1, keepdims=True)
    pi = lazy.mean(axis=0)
    return pi / pi.sum()


def stationary_law(start: np.ndarray, transition: np.ndarray) -> np.ndarray:
    """``start`` (k,) if it is stationary (``π A = π`` to :data:`SUM_TOL`), else
    :func:`stationary_distribution` of ``transition``: the law a prompt claim assumes."""
    if np.abs(start @ transition - start).max() <= SUM_TOL:
        return start
    return stationary_distribution(transition)


def _sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``probs`` (B, k) → (B,) ints, by inverse CDF."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=-1), probs.shape[-1] - 1)


def _loads_strict(text: str, what: str) -> dict:
    """Parse JSON, rejecting NaN/Infinity literals and non-object documents."""

    def bad_constant(name: str) -> Any:
        raise InputError(f"{what}: JSON contains {name}; only finite numbers are allowed")

    try:
        data = json.loads(text, parse_constant=bad_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: malformed JSON ({exc})") from None
    except RecursionError:
        # json recurses once per nesting level; a hostile file exhausts the stack
        raise InputError(
            f"{what}: JSON nested too deeply to be a model or report; "
            "models are objects of flat number arrays"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _require_keys(data: dict, keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise InputError(f"{what}: missing field(s) {missing}; expected fields {list(keys)}")


# --------------------------------------------------------------------------- HMM


@dataclass(frozen=True, eq=False)
class HMM:
    """Hidden Markov model (THEORY §1.1), validated on construction.

    start π (k,), transition A (k, k) row-stochastic, emission E (k, n) row-stochastic.
    """

    start: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    def __post_init__(self) -> None:
        start = probability_array(self.start, "start", 1)
        transition = probability_array(self.transition, "transition", 2)
        emission = probability_array(self.emission, "emission", 2)
        k = start.shape[0]
        check_size(k, "number of hidden states k", MAX_STATES)
        if transition.shape != (k, k):
            raise InputError(
                f"transition has shape {transition.shape}; with start of length k={k} it "
                f"must be ({k}, {k})"
            )
        if emission.shape[0] != k:
            raise InputError(
                f"emission has {emission.shape[0]} rows; it must have one row per hidden "
                f"state (k={k}), i.e. shape ({k}, n)"
            )
        check_size(emission.shape[1], "number of tokens n", MAX_TOKENS)
        check_rows_sum_to_one(start, "start")
        check_rows_sum_to_one(transition, "transition")
        check_rows_sum_to_one(emission, "emission")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "transition", transition)
        object.__setattr__(self, "emission", emission)

    # shapes ---------------------------------------------------------------
    @property
    def n_states(self) -> int:
        """k."""
        return self.start.shape[0]

    @property
    def n_tokens(self) -> int:
        """n."""
        return self.emission.shape[1]

    @property
    def W(self) -> np.ndarray:  # noqa: N802 - the paper's name
        """The paper's emission matrix ``W = E.T`` (n, k); column h is state h's law."""
        return self.emission.T

    @property
    def params(self) -> HMMParams:
        return HMMParams(self.start, self.transition, self.emission)

    # stationarity ---------------------------------------------------------
    def stationary(self) -> np.ndarray:
        """``start`` if it is stationary, else a stationary law of ``transition`` (k,)."""
        return stationary_law(self.start, self.transition)

    @property
    def is_stationary(self) -> bool:
        """Whether ``π A = π`` (to :data:`SUM_TOL`)."""
        return bool(np.abs(self.start @ self.transition - self.start).max() <= SUM_TOL)

    # sampling -------------------------------------------------------------
    def sample(
        self, batch: int, length: int, rng: np.random.Generator | int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``batch`` sequences of ``length`` tokens: ``(tokens, states)``, both (B, T).

        ``H_1 ~ start``, ``H_{t+1} ~ A[H_t]``, ``X_t ~ E[H_t]``.
        """
        batch, length = as_int(batch, "batch", 0), as_int(length, "length", 0)
        rng = np.random.default_rng(rng)
        states = np.empty((batch, length), dtype=np.int64)
        tokens = np.empty((batch, length), dtype=np.int64)
        if length == 0 or batch == 0:
            return tokens, states
        h = _sample_categorical(np.broadcast_to(self.start, (batch, self.n_states)), rng)
        for t in range(length):
            if t:
                h = _sample_categorical(self.transition[h], rng)
            states[:, t] = h
            tokens[:, t] = _sample_categorical(self.emission[h], rng)
        return tokens, states

    # JSON -----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "kind": "hmm",
            "version": JSON_VERSION,
            "start": self.start.tolist(),
            "transition": self.transition.tolist(),
            "emission": self.emission.tolist(),
        }

    def to_json(self, **kwargs: Any) -> str:
        """Plain JSON (no pickle): ``{"kind": "hmm", "start", "transition", "emission"}``."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict, what: str = "HMM") -> HMM:
        _require_keys(data, ("start", "transition", "emission"), what)
        kind = data.get("kind", "hmm")
        if kind != "hmm":
            raise InputError(f"{what}: kind is {kind!r}; expected 'hmm'")
        return cls(data["start"], data["transition"], data["emission"])

    @classmethod
    def from_json(cls, text: str) -> HMM:
        return cls.from_dict(_loads_strict(text, "HMM JSON"), "HMM JSON")

    def __repr__(self) -> str:
        return f"HMM(k={self.n_states}, n={self.n_tokens})"


# --------------------------------------------------------------------------- memory HMM


@dataclass(frozen=True, eq=False)
class MemoryHMM:
    """Memory-augmented HMM (THEORY §1.3).

    memory_prior (N, m): independent laws of the N cells, drawn once per sequence.
    state_start (s,), state_transition (s, s): the ordinary state chain S_t.
    pointer (s,) ints in [0, N): state ``st`` reads cell ``pointer[st]``.
    emission (m·s, n): row ``a*s + st`` is the token law for cell value ``a`` read in ``st``.
    """

    memory_prior: np.ndarray
    state_start: np.ndarray
    state_transition: np.ndarray
    pointer: np.ndarray
    emission: np.ndarray

    def __post_init__(self) -> None:
        prior = probability_array(self.memory_prior, "memory_prior", 2)
        start = probability_array(self.state_start, "state_start", 1)
        trans = probability_array(self.state_transition, "state_transition", 2)
        emission = probability_array(self.emission, "emission", 2)
        n_cells, m = prior.shape
        s = start.shape[0]
        if trans.shape != (s, s):
            raise InputError(
                f"state_transition has shape {trans.shape}; with state_start of length "
                f"s={s} it must be ({s}, {s})"
            )
        if emission.shape[0] != m * s:
            raise InputError(
                f"emission has {emission.shape[0]} rows; it needs m·s = {m}·{s} = {m * s} "
                f"(row a*s + st is cell value a read in state st)"
            )
        ptr = index_array(
            self.pointer,
            "pointer",
            s,
            n_cells,
            of="cells",
            per=", one cell per state",
            note=f" (memory_prior has N={n_cells} rows)",
        )
        check_size(m**n_cells * s, "product state count m**N * s", MAX_STATES)
        check_rows_sum_to_one(prior, "memory_prior")
        check_rows_sum_to_one(start, "state_start")
        check_rows_sum_to_one(trans, "state_transition")
        check_rows_sum_to_one(emission, "emission")
        for name, val in (
            ("memory_prior", prior),
            ("state_start", start),
            ("state_transition", trans),
            ("pointer", ptr),
            ("emission", emission),
        ):
            object.__setattr__(self, name, val)

    @property
    def n_cells(self) -> int:
        """N."""
        return self.memory_prior.shape[0]

    @property
    def n_values(self) -> int:
        """m."""
        return self.memory_prior.shape[1]

    @property
    def n_ordinary(self) -> int:
        """s."""
        return self.state_start.shape[0]

    @property
    def n_tokens(self) -> int:
        """n."""
        return self.emission.shape[1]

    def W_state(self, st: int) -> np.ndarray:  # noqa: N802 - the paper's name
        """``W_st = emission[st::s].T`` (n, m): laws of every cell value read in ``st``."""
        return self.emission[st :: self.n_ordinary].T

    def memory_configurations(self) -> np.ndarray:
        """All memory contents ``M`` (m**N, N) in product-index order (row-major)."""
        grids = np.indices((self.n_values,) * self.n_cells).reshape(self.n_cells, -1)
        return grids.T.copy()

    def as_hmm(self) -> HMM:
        """The equivalent HMM on product states, k = m**N · s.

        Product index ``h = c * s + st`` where ``c = ravel_multi_index(M, (m,)*N)``
        (row-major: cell 0 is the most significant digit). For N = 1, ``c = M_1`` and
        ``h = a*s + st`` matches the emission row layout. Transitions are block-diagonal:
        ``A[(c, st), (c', st')] = 1[c = c'] · state_transition[st, st']``.
        """
        s = self.n_ordinary
        configs = self.memory_configurations()  # (C, N)
        n_conf = configs.shape[0]
        prior_c = np.prod(self.memory_prior[np.arange(self.n_cells), configs], axis=1)  # (C,)
        start = (prior_c[:, None] * self.state_start[None, :]).reshape(-1)
        transition = np.kron(np.eye(n_conf), self.state_transition)
        # value read in state st under configuration c: configs[c, pointer[st]]
        read = configs[:, self.pointer]  # (C, s)
        rows = (read * s + np.arange(s)[None, :]).reshape(-1)
        emission = self.emission[rows]
        return HMM(start / start.sum(), transition, emission)

    def cell_marginalizer(self, cell: int) -> np.ndarray:
        """0/1 matrix (k, m) mapping product states to the value of ``cell``."""
        cell = as_cell(cell, self.n_cells)
        values = np.repeat(self.memory_configurations()[:, cell], self.n_ordinary)  # (k,)
        return (values[:, None] == np.arange(self.n_values)[None, :]).astype(np.float64)

    def sample(
        self, batch: int, length: int, rng: np.random.Generator | int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``(tokens (B, T), memory (B, N))``: memory per sequence, then the chain."""
        rng = np.random.default_rng(rng)
        memory = (
            np.stack(
                [
                    _sample_categorical(
                        np.broadcast_to(self.memory_prior[j], (batch, self.n_values)), rng
                    )
                    for j in range(self.n_cells)
                ],
                axis=1,
            )
            if batch
            else np.empty((0, self.n_cells), dtype=np.int64)
        )
        chain = HMM(self.state_start, self.state_transition, np.eye(self.n_ordinary))
        _, states = chain.sample(batch, length, rng)
        tokens = np.empty_like(states)
        s = self.n_ordinary
        for t in range(length):
            st = states[:, t]
            a = memory[np.arange(batch), self.pointer[st]]
            tokens[:, t] = _sample_categorical(self.emission[a * s + st], rng)
        return tokens, memory

    def to_dict(self) -> dict:
        return {
            "kind": "memory_hmm",
            "version": JSON_VERSION,
            "memory_prior": self.memory_prior.tolist(),
            "state_start": self.state_start.tolist(),
            "state_transition": self.state_transition.tolist(),
            "pointer": self.pointer.tolist(),
            "emission": self.emission.tolist(),
        }

    def to_json(self, **kwargs: Any) -> str:
        """Plain JSON (no pickle), ``kind = "memory_hmm"``."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: dict, what: str = "MemoryHMM") -> MemoryHMM:
        fields = ("memory_prior", "state_start", "state_transition", "pointer", "emission")
        _require_keys(data, fields, what)
        kind = data.get("kind", "memory_hmm")
        if kind != "memory_hmm":
            raise InputError(f"{what}: kind is {kind!r}; expected 'memory_hmm'")
        return cls(*(data[f] for f in fields))

    @classmethod
    def from_json(cls, text: str) -> MemoryHMM:
        return cls.from_dict(_loads_strict(text, "MemoryHMM JSON"), "MemoryHMM JSON")

    def __repr__(self) -> str:
        return (
            f"MemoryHMM(N={self.n_cells}, m={self.n_values}, s={self.n_ordinary}, "
            f"n={self.n_tokens})"
        )


def model_from_dict(data: dict, what: str = "model") -> HMM | MemoryHMM:
    """Either model from its plain-dict form, dispatching on ``kind``."""
    kind = data.get("kind")
    if kind == "memory_hmm" or (kind is None and "memory_prior" in data):
        return MemoryHMM.from_dict(data, what)
    if kind == "hmm" or (kind is None and ("start" in data or "transition" in data)):
        return HMM.from_dict(data, what)
    if kind is None:
        raise InputError(
            f'{what}: cannot tell the model kind; add "kind": "hmm" (fields start, '
            f'transition, emission) or "kind": "memory_hmm" (fields memory_prior, '
            f"state_start, state_transition, pointer, emission)"
        )
    raise InputError(f"{what}: unknown kind {kind!r}; expected 'hmm' or 'memory_hmm'")


def model_from_json(text: str, what: str = "model JSON") -> HMM | MemoryHMM:
    return model_from_dict(_loads_strict(text, what), what)


def loads_json(text: str, what: str) -> dict:
    """Strict JSON object parse shared by every user-facing loader (no NaN/Infinity)."""
    return _loads_strict(text, what)


__all__ = [
    "HMM",
    "HMMParams",
    "MemoryHMM",
    "MAX_STATES",
    "SUM_TOL",
    "loads_json",
    "model_from_dict",
    "model_from_json",
    "stationary_distribution",
]
