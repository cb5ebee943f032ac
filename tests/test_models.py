"""Models (THEORY §1): validation names the field and the fix; JSON; sampling; as_hmm."""

import json

import numpy as np
import pytest

from verify.core.models import (
    HMM,
    MAX_STATES,
    MemoryHMM,
    model_from_json,
    stationary_distribution,
)

GOOD = dict(
    start=[0.5, 0.5],
    transition=[[0.9, 0.1], [0.2, 0.8]],
    emission=[[0.5, 0.25, 0.25], [0.0, 0.5, 0.5]],
)


def hmm_with(**overrides):
    return HMM(**{**GOOD, **overrides})


@pytest.mark.parametrize(
    "overrides,pattern",
    [
        (dict(start=[[0.5, 0.5]]), r"start: expected a vector"),
        (dict(start=[]), r"start: is empty"),
        (dict(emission=np.zeros((2, 0))), r"emission: is empty"),
        (dict(transition=[[1.0]]), r"transition has shape \(1, 1\).*must be \(2, 2\)"),
        (dict(emission=[[1.0]]), r"emission has 1 rows.*\(2, n\)"),
        (dict(start=[np.nan, 1.0]), r"start\[0\] is nan; entries must be finite"),
        (dict(transition=[[np.inf, 0], [0, 1]]), r"transition\[0, 0\] is inf"),
        (dict(start=[1.5, -0.5]), r"start\[1\] = -0.5 is negative"),
        (dict(start=[0.5, 0.4]), r"start sums to 0.9.*divide it by its sum"),
        (dict(transition=[[0.9, 0.1], [0.3, 0.8]]), r"transition row 1 sums to 1.1"),
        (dict(emission=[[0.5, 0.5, 0.5], [0, 0.5, 0.5]]), r"emission row 0 sums to 1.5"),
        (dict(start=["a", "b"]), r"start: cannot be read as an array of numbers"),
    ],
)
def test_hmm_validation_names_the_field(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        hmm_with(**overrides)


def test_huge_sizes_are_refused_before_allocation():
    k = MAX_STATES + 1
    with pytest.raises(ValueError, match="exceeds the supported maximum"):
        HMM(np.full(k, 1 / k), np.eye(k), np.ones((k, 1)))
    with pytest.raises(ValueError, match="product state count"):
        MemoryHMM(np.full((13, 2), 0.5), [1.0], [[1.0]], [0], np.ones((2, 1)))


def test_rows_within_tolerance_are_accepted_and_arrays_are_frozen():
    h = hmm_with(start=[1 / 3, 2 / 3 + 5e-9])
    assert h.n_states == 2 and h.n_tokens == 3
    assert h.W.shape == (3, 2)
    with pytest.raises(ValueError):
        h.start[0] = 1.0


def test_json_round_trip_and_strict_loading():
    h = hmm_with()
    back = HMM.from_json(h.to_json())
    for a, b in zip(h.params, back.params, strict=True):
        np.testing.assert_array_equal(a, b)
    assert isinstance(model_from_json(h.to_json()), HMM)
    with pytest.raises(ValueError, match="malformed JSON"):
        HMM.from_json("{not json")
    with pytest.raises(ValueError, match="NaN"):
        HMM.from_json('{"start": [NaN, 1], "transition": [[1]], "emission": [[1]]}')
    with pytest.raises(ValueError, match=r"missing field\(s\) \['emission'\]"):
        HMM.from_json(json.dumps({"start": [1.0], "transition": [[1.0]]}))
    with pytest.raises(ValueError, match="expected a JSON object"):
        HMM.from_json("[1, 2]")
    with pytest.raises(ValueError, match="nested too deeply"):
        HMM.from_json('{"start": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ValueError, match="unknown kind 'ghmm'"):
        model_from_json('{"kind": "ghmm"}')


def test_stationary_distribution_irreducible_and_reducible():
    A = np.array(GOOD["transition"])
    pi = stationary_distribution(A)
    np.testing.assert_allclose(pi @ A, pi, atol=1e-14)
    np.testing.assert_allclose(pi, [2 / 3, 1 / 3])
    # two closed classes and a transient state
    R = np.array([[1.0, 0, 0], [0, 1.0, 0], [0.3, 0.3, 0.4]])
    pi = stationary_distribution(R)
    np.testing.assert_allclose(pi @ R, pi, atol=1e-12)
    assert pi[2] == 0 and (pi >= 0).all()
    assert not hmm_with(start=[1.0, 0.0]).is_stationary
    assert HMM(pi, R, np.ones((3, 1))).is_stationary


def test_sampling_is_seeded_and_follows_the_chain():
    h = hmm_with(start=[2 / 3, 1 / 3])
    tok, states = h.sample(4000, 30, rng=1)
    tok2, states2 = h.sample(4000, 30, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(tok, tok2)
    np.testing.assert_array_equal(states, states2)
    assert tok.shape == states.shape == (4000, 30)
    # stationary start: every position has law start (4000 draws: 5 sigma ≈ 0.04)
    assert abs((states[:, 0] == 0).mean() - 2 / 3) < 0.04
    assert abs((states[:, -1] == 0).mean() - 2 / 3) < 0.04
    # transition frequencies
    from_0 = states[:, :-1] == 0
    assert abs((states[:, 1:][from_0] == 1).mean() - 0.1) < 0.01
    # state 1 never emits token 0
    assert not (tok[states == 1] == 0).any()
    with pytest.raises(ValueError, match="batch must be a non-negative int"):
        h.sample(-1, 3)


def random_memory(rng, N, m, s, n):
    def stoch(r, c):
        a = rng.random((r, c))
        return a / a.sum(axis=1, keepdims=True)

    return MemoryHMM(
        stoch(N, m), stoch(1, s)[0], stoch(s, s), rng.integers(0, N, s), stoch(m * s, n)
    )


def test_memory_as_hmm_layout_and_sampling():
    rng = np.random.default_rng(0)
    mem = random_memory(rng, 2, 3, 2, 4)
    h = mem.as_hmm()
    assert h.n_states == 3**2 * 2
    # product index h = c*s + st, c = ravel_multi_index(M): check one state's emission law
    M = (2, 1)
    st = 1
    c = np.ravel_multi_index(M, (3, 3))
    np.testing.assert_array_equal(h.emission[c * 2 + st], mem.emission[M[mem.pointer[st]] * 2 + st])
    np.testing.assert_allclose(
        h.start.reshape(9, 2).sum(axis=1), np.outer(*mem.memory_prior).ravel()
    )
    # block-diagonal: memory never changes
    assert h.transition[0, 2] == 0 and h.transition[0, 1] == mem.state_transition[0, 1]
    marg = mem.cell_marginalizer(1)
    assert marg.shape == (18, 3)
    np.testing.assert_array_equal(marg.sum(axis=1), 1)
    tok, memory = mem.sample(500, 7, rng=3)
    assert tok.shape == (500, 7) and memory.shape == (500, 2)
    assert abs((memory[:, 0] == 0).mean() - mem.memory_prior[0, 0]) < 0.1
    back = MemoryHMM.from_json(mem.to_json())
    np.testing.assert_array_equal(back.pointer, mem.pointer)
    assert isinstance(model_from_json(mem.to_json()), MemoryHMM)


@pytest.mark.parametrize(
    "field,value,pattern",
    [
        ("pointer", [0, 2], r"pointer\[1\] = 2 is out of range; cells are 0..1"),
        ("pointer", [0], r"pointer has shape \(1,\); it must be \(2,\)"),
        ("pointer", [0.5, 1], r"pointer must hold integers"),
        ("emission", np.full((3, 2), 0.5), r"emission has 3 rows; it needs m·s = 2·2 = 4"),
        ("memory_prior", [[0.5, 0.6], [0.5, 0.5]], r"memory_prior row 0 sums to 1.1"),
        ("state_transition", [[1.0]], r"state_transition has shape \(1, 1\)"),
        ("state_start", [1.0, 0.5], r"state_start sums to 1.5"),
    ],
)
def test_memory_validation_names_the_field(field, value, pattern):
    good = dict(
        memory_prior=[[0.5, 0.5], [0.5, 0.5]],
        state_start=[0.5, 0.5],
        state_transition=[[0.5, 0.5], [0.5, 0.5]],
        pointer=[0, 1],
        emission=np.full((4, 2), 0.5),
    )
    MemoryHMM(**good)
    with pytest.raises(ValueError, match=pattern):
        MemoryHMM(**{**good, field: value})
    with pytest.raises(ValueError, match="cell = 5 is out of range"):
        MemoryHMM(**good).cell_marginalizer(5)
