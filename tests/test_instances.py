"""Claim instances as dataclasses (strategies.instance): case files keep the keys of the
dicts they replaced, a saved case decodes to the same instance, and a bad one names its
field."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies.head_claims import HeadRobustTask, HeadTask
from strategies.instance import Instance, Seeded
from strategies.memory_claims import MemoryTask, VsVanillaTask
from strategies.prompt_claims import (
    MultiTokenTask,
    PromptTask,
    RobustPromptTask,
    StartTask,
    WeakerTask,
)
from verify.claims import from_jsonable, get, load_builtin, to_jsonable
from verify.core.models import HMM, MemoryHMM
from verify.core.validation import InputError

load_builtin()

#: Claim → (instance type, the keys its case files hold, in order). These are the dict
#: keys the generators returned before instances became dataclasses: saved cases replay.
CASE_KEYS = {
    "head.exact": (HeadTask, ["hmm", "mu", "xs"]),
    "head.rowspace": (HeadTask, ["hmm", "mu", "xs"]),
    "head.robust": (HeadRobustTask, ["hmm", "mu", "xs", "eps_factor", "seed"]),
    "head.necessary": (HeadTask, ["hmm", "mu", "xs"]),
    "prompt.exact": (PromptTask, ["hmm", "mu", "xs", "U", "S", "prefix"]),
    "prompt.weaker": (
        WeakerTask,
        ["head_hmm", "head_mu", "hmm", "mu", "xs", "U", "S", "prefix"],
    ),
    "prompt.robust": (RobustPromptTask, ["hmm", "mu", "xs", "S", "prompt", "leak"]),
    "prompt.multi_token": (MultiTokenTask, ["hmm", "xs", "prompt"]),
    "prompt.multi_token_start": (StartTask, ["hmm", "mu", "xs", "start_state"]),
    "memory.iid_exact": (MemoryTask, ["mem", "mu", "cell", "xs"]),
    "memory.prompt": (MemoryTask, ["mem", "mu", "cell", "xs"]),
    "memory.vs_vanilla": (
        VsVanillaTask,
        ["mem", "mu", "cell", "xs", "hmm", "hmm_mu", "hmm_xs"],
    ),
}


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.size == b.size == 0:  # JSON keeps no shape of an empty array (checks reshape)
            return a.dtype == b.dtype
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (HMM, MemoryHMM)):
        return isinstance(b, type(a)) and a.to_dict() == b.to_dict()
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("claim_id", sorted(CASE_KEYS))
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_case_json_keeps_its_keys_and_decodes_to_the_same_instance(claim_id, data):
    kind, keys = CASE_KEYS[claim_id]
    inst = data.draw(get(claim_id).strategy())
    assert isinstance(inst, kind)
    saved = to_jsonable(inst)  # what a case file holds: the old dict's keys, in order
    assert isinstance(saved, dict) and list(saved) == keys
    back = kind.from_dict(from_jsonable(json.loads(json.dumps(saved))))
    for name in keys:
        assert _same(getattr(inst, name), getattr(back, name)), name
    assert list(inst.as_dict()) == keys


def test_from_dict_names_a_missing_or_ill_typed_field():
    hmm = HMM(np.array([0.5, 0.5]), np.eye(2), np.eye(2))
    with pytest.raises(InputError, match=r"HeadTask\.xs: missing"):
        HeadTask.from_dict({"hmm": hmm, "mu": [1.0, -1.0]})
    with pytest.raises(InputError, match=r"HeadTask\.hmm: expected a HMM"):
        HeadTask.from_dict({"hmm": {"start": [1]}, "mu": [1.0, -1.0], "xs": [[0]]})
    with pytest.raises(InputError, match=r"Seeded\.seed"):
        Seeded.from_dict({"seed": "zero"})
    t = HeadTask.from_dict({"hmm": hmm, "mu": [1, -1], "xs": [[0], [1]], "extra": 1})
    assert t.mu.dtype == np.float64 and t.xs.dtype == np.int64  # converted to the field types
    assert HeadTask.from_dict(t) is t


def test_optional_fields_the_check_does_not_read_may_be_absent():
    """``ptverify prove`` hands prompt.weaker {head_hmm, head_mu, hmm, mu, xs}: it decodes,
    and the absent fields stay out of the dict form."""
    hmm = HMM(np.array([0.5, 0.5]), np.eye(2), np.eye(2))
    w = WeakerTask.from_dict({"head_hmm": hmm, "head_mu": [1, -1], "hmm": hmm, "mu": [1, -1],
                              "xs": [[0], [1]]})  # fmt: skip
    assert w.U is None and w.prefix is None
    assert list(w.as_dict()) == ["head_hmm", "head_mu", "hmm", "mu", "xs"]


def test_every_builtin_claim_with_an_instance_type_decodes_dicts():
    """The registered check of a built-in claim takes the dict the harness holds."""
    out = get("memory.pool").check({"seed": 108})  # |λ₂| = 1: discarded before sampling
    assert out.status == "discard"
    assert issubclass(Seeded, Instance)
