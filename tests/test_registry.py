"""The claims registry: registration rules, built-in IDs, user modules, instance codec."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import strategies as st

from verify.claims import (
    BUILTIN_ORDER,
    Claim,
    Outcome,
    all_claims,
    claim,
    from_jsonable,
    get,
    load_builtin,
    load_claims_module,
    register,
    to_jsonable,
)
from verify.core.models import HMM, MemoryHMM

THEORY_IDS = {
    "head.exact": "universal",
    "head.rowspace": "universal",
    "head.robust": "universal",
    "head.necessary": "existential",
    "prompt.exact": "universal",
    "prompt.weaker": "existential",
    "prompt.robust": "universal",
    "prompt.multi_token": "universal",
    "prompt.multi_token_start": "existential",
    "memory.iid_exact": "universal",
    "memory.pool": "statistical",
    "memory.prompt": "universal",
    "memory.prompt_limit": "statistical",
    "memory.vs_vanilla": "existential",
}
#: Statistical claims on gradient-trained heads beyond THEORY §5's list.
TRAINED_IDS = {"prompt.trained": "statistical", "memory.attention": "statistical"}


def test_every_theory_claim_is_registered_with_provenance_kind_and_budgets():
    load_builtin()
    ids = [c.id for c in all_claims()]
    assert ids[: len(BUILTIN_ORDER)] == list(BUILTIN_ORDER)
    assert set(THEORY_IDS) | set(TRAINED_IDS) == set(BUILTIN_ORDER)
    for cid, kind in {**THEORY_IDS, **TRAINED_IDS}.items():
        c = get(cid)
        assert c.kind == kind
        assert c.provenance.startswith("after Thm ") or c.provenance == "extension"
        assert c.oracles and c.statement
        assert all(c.budget(p) >= 1 for p in ("ci", "dev", "thorough"))
        assert c.budget("thorough") >= c.budget("ci")


def _ok(_inst):
    return Outcome.passed()


def test_registration_rejects_bad_claims():
    load_builtin()  # "already registered" below needs head.exact, whatever ran before
    with pytest.raises(ValueError, match="kind"):
        register(Claim("t.bad", "T", "sometimes", "s", _ok, strategy=lambda: st.just({})))
    with pytest.raises(ValueError, match="strategy"):
        register(Claim("t.nostrat", "T", "universal", "s", _ok))
    with pytest.raises(ValueError, match="no spaces"):
        register(Claim("t bad", "T", "universal", "s", _ok, strategy=lambda: st.just({})))
    with pytest.raises(ValueError, match="examples"):
        register(
            Claim("t.ex", "T", "universal", "s", _ok, strategy=lambda: st.just({}),
                  examples={"nightly": 3})
        )  # fmt: skip
    with pytest.raises(ValueError, match="already registered"):
        register(Claim("head.exact", "T", "universal", "s", _ok, strategy=lambda: st.just({}),
                       module="someone.else"))  # fmt: skip
    with pytest.raises(ValueError, match="unknown claim"):
        get("no.such.claim")
    with pytest.raises(ValueError, match="status"):
        Outcome("maybe")


def test_decorator_registers_statistical_claims_without_strategy():
    @claim("t.stat", theorem="T", kind="statistical", statement="s", examples={"ci": 2})
    def check(inst):
        return Outcome.passed(quantities={"seed": inst["seed"]})

    c = get("t.stat")
    assert c.check is check and c.module == __name__ and c.budget("ci") == 2


def test_user_modules_load_by_dotted_name_and_by_path(tmp_path, monkeypatch):
    src = (
        "from hypothesis import strategies as st\n"
        "from verify.claims import Outcome, claim\n"
        "@claim('user.tmp_{n}', theorem='T', kind='universal', statement='s',\n"
        "       strategy=lambda: st.fixed_dictionaries({{'a': st.integers(0, 3)}}))\n"
        "def check(inst):\n"
        "    return Outcome.passed()\n"
    )
    (tmp_path / "userclaims_a.py").write_text(src.format(n="a"))
    (tmp_path / "userclaims_b.py").write_text(src.format(n="b"))
    (tmp_path / "broken_claims.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_claims_module("userclaims_a") == "userclaims_a"
    assert get("user.tmp_a").module == "userclaims_a"
    name = load_claims_module(str(tmp_path / "userclaims_b.py"))
    assert get("user.tmp_b").module == name
    with pytest.raises(ValueError, match="cannot import"):
        load_claims_module("no_such_user_module_xyz")
    with pytest.raises(ValueError, match="boom"):
        load_claims_module("broken_claims")
    with pytest.raises(ValueError, match="does not exist"):
        load_claims_module(str(tmp_path / "missing.py"))


def test_instance_codec_round_trips_models_and_arrays():
    hmm = HMM([0.5, 0.5], [[0.5, 0.5], [1, 0]], [[1, 0, 0], [0, 0.5, 0.5]])
    mem = MemoryHMM([[0.5, 0.5]], [1.0], [[1.0]], [0], [[1, 0], [0, 1]])
    inst = {"hmm": hmm, "mem": mem, "mu": np.array([1.0, -2.0]), "xs": np.array([[0, 1]]),
            "U": (1, 2), "cell": np.int64(0), "t": 0.5}  # fmt: skip
    back = from_jsonable(to_jsonable(inst))
    assert isinstance(back["hmm"], HMM) and isinstance(back["mem"], MemoryHMM)
    np.testing.assert_array_equal(back["hmm"].transition, hmm.transition)
    np.testing.assert_array_equal(back["mu"], inst["mu"])
    assert back["xs"].dtype == np.int64 and back["U"] == [1, 2] and back["cell"] == 0


def test_instance_codec_errors_name_the_field():
    bad_model = {"hmm": {"kind": "hmm", "start": [1.0], "transition": [[1.0]],
                         "emission": [[0.7, 0.7]]}}  # fmt: skip
    with pytest.raises(ValueError, match="emission row 0"):
        from_jsonable(bad_model)
    with pytest.raises(ValueError, match=r"instance\.mu\.dtype"):
        from_jsonable({"mu": {"array": [1], "dtype": "object"}})
    with pytest.raises(ValueError, match=r"instance\.mu\.array"):
        from_jsonable({"mu": {"array": [[1], [1, 2]], "dtype": "float64"}})


def _fake_lp(status, residual, verified=0.0):
    from verify.recovery.lp import LPResult

    def solve(features, labels):
        n = len(labels)
        return LPResult(
            status=status, margin=residual, head=None, certificate=np.full(n, 1.0 / n),
            verified_margin=verified, certificate_residual=residual, scale=1.0,
            tol_zero=1e-8, tol_eval=1e-15, reason="fake", solver="fake",
        )  # fmt: skip

    return solve


@pytest.mark.parametrize(
    "residual,want", [(1e-9, "inconclusive"), (1e-12, "fail")], ids=["below", "above"]
)
def test_witness_vs_lp_separates_resolution_from_disagreement(monkeypatch, residual, want):
    """A witness margin ≤ the LP's certified bound on t* is below resolution (inconclusive);
    a witness margin above that bound contradicts the certificate (a counterexample)."""
    from verify.claims import _support

    eps = 1e-10  # witness margin 2e-10 after normalisation
    features = np.array([[0.5 + eps, 0.5 - eps], [0.5 - eps, 0.5 + eps]])
    labels = np.array([1.0, -1.0])
    monkeypatch.setattr(_support, "lp", _fake_lp("not_recoverable", residual))
    out = _support.witness_vs_lp(
        xs=np.array([[0], [1]]), labels=labels, features=features, head=np.array([1.0, -1.0]),
        posteriors=np.eye(2), quantities={}, detail={},
    )  # fmt: skip
    assert out.status == want, out.message
