"""The runner: statuses, counts, shrinking, discards and inconclusives never passing,
determinism of the ci profile, parallel workers and incremental results."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import strategies as st

from verify.claims import Outcome, claim
from verify.harness.runner import exit_code, run_claim, run_claims

INTS = lambda: st.fixed_dictionaries({"a": st.integers(0, 1000)})  # noqa: E731


@claim("t.always", theorem="T", kind="universal", statement="s", strategy=INTS,
       examples={"ci": 30})  # fmt: skip
def _always(inst):
    return Outcome.passed(quantities={"a": inst["a"]})


@claim("t.small", theorem="T", kind="universal", statement="a < 100", strategy=INTS,
       examples={"ci": 200})  # fmt: skip
def _small(inst):
    if inst["a"] >= 100:
        return Outcome.failed(f"a = {inst['a']}", detail={"a": inst["a"]})
    return Outcome.passed()


@claim("t.exists", theorem="T", kind="existential", statement="some a ≥ 37", strategy=INTS,
       examples={"ci": 200})  # fmt: skip
def _exists(inst):
    return Outcome.witness("big") if inst["a"] >= 37 else Outcome.miss()


@claim("t.never", theorem="T", kind="existential", statement="a > 1000", strategy=INTS,
       examples={"ci": 25})  # fmt: skip
def _never(inst):
    return Outcome.witness("?") if inst["a"] > 1000 else Outcome.miss()


@claim("t.exists_broken", theorem="T", kind="existential", statement="(a) a < 500; (b) a ≥ 900",
       strategy=INTS, examples={"ci": 300})  # fmt: skip
def _exists_broken(inst):
    if inst["a"] >= 500:
        return Outcome.failed("implication part broken")
    return Outcome.witness("big") if inst["a"] >= 900 else Outcome.miss()


@claim("t.tuple", theorem="T", kind="universal", statement="s",
       strategy=lambda: st.tuples(st.integers(0, 3)))  # fmt: skip
def _tuple(inst):
    return Outcome.passed()


@claim("t.discards", theorem="T", kind="universal", statement="s", strategy=INTS,
       examples={"ci": 20})  # fmt: skip
def _discards(inst):
    return Outcome.discard("γ = 0")


@claim("t.solver", theorem="T", kind="universal", statement="s", strategy=INTS,
       examples={"ci": 20})  # fmt: skip
def _solver(inst):
    if inst["a"] % 4:
        return Outcome.inconclusive("solver failed")
    return Outcome.passed()


@claim("t.crash", theorem="T", kind="universal", statement="s", strategy=INTS,
       examples={"ci": 50})  # fmt: skip
def _crash(inst):
    if inst["a"] >= 5:
        raise ZeroDivisionError("boom")
    return Outcome.passed()


@claim("t.missing", theorem="T", kind="universal", statement="s", strategy=INTS)
def _missing(inst):
    return Outcome.inconclusive("verify.nothing is not installed yet")


@claim("t.stats", theorem="T", kind="statistical", statement="s", examples={"ci": 5},
       thresholds={"max_seed": 2})  # fmt: skip
def _stats(inst):
    if inst["seed"] > 2:
        return Outcome.failed(f"seed {inst['seed']} above threshold")
    return Outcome.passed(quantities={"seed": inst["seed"]})


def test_holding_claim_counts_examples_and_quantities():
    r = run_claim("t.always", "ci").to_dict()
    assert r["status"] == "held" and r["case"] is None
    assert r["counts"]["examples"] == 30 and r["counts"]["passed"] == 30
    q = r["quantities"]["a"]
    assert q["count"] == 30 and q["min"] <= q["median"] <= q["max"]


def test_falsified_claim_is_shrunk_to_the_minimal_counterexample():
    r = run_claim("t.small", "ci").to_dict()
    assert r["status"] == "falsified"
    assert r["case"]["instance"] == {"a": 100}  # Hypothesis shrinks to the boundary
    assert r["case"]["role"] == "counterexample" and r["message"] == "a = 100"
    assert exit_code([r]) == 1


def test_existential_claims_shrink_their_witness_or_fail_the_search():
    r = run_claim("t.exists", "ci").to_dict()
    assert r["status"] == "found" and r["case"]["instance"] == {"a": 37}
    assert r["case"]["role"] == "witness" and exit_code([r]) == 0
    r = run_claim("t.exists_broken", "ci").to_dict()  # a failing implication part stops the search
    assert r["status"] == "falsified" and r["case"]["instance"] == {"a": 500}
    assert r["case"]["role"] == "counterexample" and exit_code([r]) == 1
    r = run_claim("t.never", "ci").to_dict()
    assert r["status"] == "not_found" and r["counts"]["examples"] == 25
    assert exit_code([r]) == 1


def test_discards_and_inconclusives_never_count_as_passes():
    r = run_claim("t.discards", "ci").to_dict()
    assert r["status"] == "inconclusive" and r["counts"]["discarded"] == 20
    assert exit_code([r]) == 3
    r = run_claim("t.solver", "ci").to_dict()
    assert r["status"] == "inconclusive"
    assert r["counts"]["inconclusive"] > r["counts"]["passed"]
    assert "solver failed" in r["message"]
    r = run_claim("t.missing", "ci").to_dict()
    assert r["status"] == "inconclusive" and "not installed" in r["message"]


def test_a_crash_is_an_error_with_a_shrunk_case():
    r = run_claim("t.crash", "ci").to_dict()
    assert r["status"] == "error" and exit_code([r]) == 1
    assert r["case"]["instance"] == {"a": 5}
    assert "ZeroDivisionError" in r["message"]


def test_non_dict_instances_are_an_error_naming_the_fix():
    r = run_claim("t.tuple", "ci").to_dict()
    assert r["status"] == "error" and "must be dicts" in r["message"]


def test_statistical_claims_run_their_fixed_seeds():
    r = run_claim("t.stats", "ci").to_dict()
    assert r["status"] == "falsified" and r["counts"]["examples"] == 5
    assert r["case"]["instance"] == {"seed": 3}
    assert run_claim("t.stats", "ci", examples=3).to_dict()["status"] == "held"
    assert run_claim("t.stats", "ci", examples=3, seed=10).to_dict()["status"] == "falsified"


def test_ci_profile_is_deterministic_and_seeds_replay_dev_runs():
    a, b = run_claim("t.always", "ci").to_dict(), run_claim("t.always", "ci").to_dict()
    assert a["quantities"]["a"]["values"] == b["quantities"]["a"]["values"]
    d1 = run_claim("t.always", "dev", examples=20, seed=1234).to_dict()
    d2 = run_claim("t.always", "dev", examples=20, seed=1234).to_dict()
    assert d1["seed"] == 1234 and d1["quantities"] == d2["quantities"]
    assert run_claim("t.always", "dev", examples=5).to_dict()["seed"] is not None  # recorded


def test_exit_code_mapping():
    assert exit_code([{"status": "held"}, {"status": "found"}]) == 0
    assert exit_code([{"status": "held"}, {"status": "inconclusive"}]) == 3
    assert exit_code([{"status": "inconclusive"}, {"status": "falsified"}]) == 1
    assert exit_code([{"status": "not_found"}]) == 1
    assert exit_code([]) == 3


def test_run_claims_reports_each_result_as_it_lands():
    seen = []
    results, interrupted = run_claims(
        ["t.always", "t.small"], on_result=lambda r, done: seen.append(len(done)),
        progress=False,
    )  # fmt: skip
    assert not interrupted and seen == [1, 2]
    assert [r["id"] for r in results] == ["t.always", "t.small"]
    with pytest.raises(ValueError, match="unknown claim"):
        run_claims(["nope"], progress=False)
    with pytest.raises(ValueError, match="workers"):
        run_claims(["t.always"], workers=0, progress=False)


def test_keyboard_interrupt_keeps_partial_results(monkeypatch):
    import verify.harness.runner as runner

    real = runner.run_claim

    def interrupt_second(cid, *a, **k):
        if cid == "t.small":
            raise KeyboardInterrupt
        return real(cid, *a, **k)

    monkeypatch.setattr(runner, "run_claim", interrupt_second)
    results, interrupted = run_claims(["t.always", "t.small", "t.exists"], progress=False)
    assert interrupted and [r["id"] for r in results] == ["t.always"]


def test_parallel_workers_find_user_claims_by_id(caplog):
    planted = str(Path(__file__).with_name("planted_claims.py"))
    from verify.claims import load_claims_module

    load_claims_module(planted)
    caplog.set_level(logging.INFO, logger="verify")  # the CLI sends these lines to stderr
    results, _ = run_claims(
        ["planted.head_ok", "planted.head_bug"], workers=2, claims_from=[planted]
    )
    assert [r["status"] for r in results] == ["held", "falsified"]
    err = caplog.text
    assert "[2/2]" in err  # progress on stderr


@claim("t.vacuous", theorem="T", kind="universal", statement="premise rarely met",
       strategy=INTS, examples={"ci": 40})  # fmt: skip
def _vacuous(inst):
    return Outcome.passed(exercised=inst["a"] % 4 == 0, sizes={"k": 2 + inst["a"] % 3})


@claim("t.covered", theorem="T", kind="universal", statement="premise met, targets",
       strategy=INTS, examples={"ci": 40})  # fmt: skip
def _covered(inst):
    return Outcome.passed(
        exercised=True, sizes={"k": 2 + inst["a"] % 3, "T": 1}, targets={"a": float(inst["a"])}
    )


def test_a_pass_that_did_not_exercise_the_premise_is_vacuous_never_held():
    r = run_claim("t.vacuous", "ci").to_dict()
    assert r["status"] == "vacuous" and exit_code([r]) == 3
    cov = r["coverage"]
    assert cov["exercised"] < 0.8 and cov["exercised_known"] == cov["decided"] == 40
    assert "vacuous" in r["message"]
    assert exit_code([r, {"status": "falsified"}]) == 1


def test_coverage_reports_size_ranges_distributions_and_target_extremes():
    r = run_claim("t.covered", "ci").to_dict()
    assert r["status"] == "held" and "premise exercised on 100%" in r["message"]
    cov = r["coverage"]
    assert cov["exercised"] == 1.0 and cov["discard_rate"] == 0.0
    assert cov["T"] == [1, 1] and cov["k"][0] >= 2 and cov["k"][1] <= 4
    assert sum(cov["sizes"]["k"].values()) == 40
    assert cov["targets"]["a"]["max"] >= cov["targets"]["a"]["min"]
    # claims that do not report exercised are neither vacuous nor counted
    assert run_claim("t.always", "ci").to_dict()["coverage"]["exercised"] is None
