"""Sharded claim runs (``run --shards K``) on the local engine: budgets, seeds, merging, and
replaying a shard's counterexample with ``--seed``/``--examples`` alone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from verify.claims import load_builtin, load_claims_module
from verify.harness import runner, shards
from verify.harness.engines import Engine
from verify.harness.records import ClaimResult, Counts

PLANTED = str(Path(__file__).with_name("planted_claims.py"))


@pytest.fixture(scope="module", autouse=True)
def planted():
    load_builtin()
    load_claims_module(PLANTED)


def test_budget_split_and_seeds_depend_on_coordinates_only():
    assert shards.split_budget(10, 3) == [4, 3, 3]
    assert shards.split_budget(2, 5) == [1, 1]
    seeds = [shards.shard_seed("head.exact", 7, i) for i in range(3)]
    assert len(set(seeds)) == 3 and seeds == [
        shards.shard_seed("head.exact", 7, i) for i in range(3)
    ]
    assert shards.shard_seed("head.rowspace", 7, 0) != seeds[0]


def test_a_falsified_shard_gives_the_claim_its_counterexample_and_replays_alone():
    results, interrupted = runner.run_claims(
        ["planted.head_bug"], profile="dev", examples=60, seed=5, shards=3,
        engine=Engine("local"), claims_from=[PLANTED], progress=False,
    )  # fmt: skip
    assert not interrupted and len(results) == 1
    r = results[0]
    assert r["status"] == "falsified" and r["case"]["role"] == "counterexample"
    assert [s["budget"] for s in r["shards"]] == [20, 20, 20] and r["seed"] == 5
    bad = [s for s in r["shards"] if s["status"] == "falsified"]
    assert bad and f"--seed {bad[0]['seed']} --examples {bad[0]['budget']}" in r["message"]
    alone = runner.run_claim("planted.head_bug", "dev", bad[0]["budget"], bad[0]["seed"]).to_dict()
    assert alone["status"] == "falsified"
    assert alone["case"]["instance"] == r["case"]["instance"]


def test_a_true_claim_holds_with_the_counts_of_every_shard():
    results, _ = runner.run_claims(
        ["planted.head_ok"], profile="dev", examples=30, seed=2, shards=2,
        engine=Engine("local", workers=2), claims_from=[PLANTED], progress=False,
    )  # fmt: skip
    r = results[0]
    assert r["status"] == "held", r["message"]
    assert r["counts"]["examples"] == sum(s["examples"] for s in r["shards"]) > 0
    assert len({s["seed"] for s in r["shards"]}) == 2


def test_merge_never_turns_an_inconclusive_shard_into_a_pass():
    part = ClaimResult(
        claim={"id": "planted.head_ok"}, status="held", message="held", profile="dev", seed=1,
        budget=5, counts=Counts(examples=5, passed=5), time_s=0.1, quantities={}, case=None,
    )  # fmt: skip
    other = replace(part, status="inconclusive", message="only 0 decided", seed=2)
    merged = shards.merge("planted.head_ok", 9, [part, other]).to_dict()
    assert merged["status"] == "inconclusive" and "--seed 2" in merged["message"]
    assert shards.merge("planted.head_ok", 9, [part, replace(part, seed=3)]).status == "held"


def test_run_shards_on_the_command_line_records_every_shard(tmp_path, capsys):
    from verify.cli import main

    argv = ["run", "planted.head_ok", "--claims-from", PLANTED, "--profile", "dev"]
    argv += ["--examples", "20", "--seed", "1", "--report-dir", str(tmp_path), "--quiet"]
    assert main([*argv, "--shards", "0"]) == 2
    assert "--shards" in capsys.readouterr().err
    assert main([*argv, "--shards", "2"]) == 0
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    (claim,) = doc["claims"]
    assert claim["seed"] == 1 and [s["budget"] for s in claim["shards"]] == [10, 10]
