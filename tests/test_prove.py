"""``ptverify prove``: the scope enumeration (against a brute-force orbit count), the exact
separability decision, the deciders, chunking (resume, damaged chunks, any worker count)
and the CLI's results, cases and exit codes.

Cost: the small scopes here (k = 2 and one k = 3, n = 2 slice) take well under 60 s on 2
loaded cores in all, so they run in the normal suite; the default scope is ``nox -s prove``.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from verify.claims import load_builtin
from verify.claims.prove import DECIDERS, MEMORY_CLAIMS, WEAKER_A, Tally, decide_chunk, separable
from verify.cli import main
from verify.crosscheck import check_certificate
from verify.crosscheck.scope import Cell, Scope, compositions, tasks
from verify.harness.engines import Engine
from verify.harness.prove import prove

load_builtin()
#: The claims decided on HMM cells (memory.iid_exact has its own cells and test).
HMM_IDS = [c for c in DECIDERS if c not in MEMORY_CLAIMS]


def _orbits_brute(k: int, n: int, den: int) -> int:
    """Orbits of S_k × S_n on the models of a cell, from tuples and sets (no indices)."""
    rk, rn = compositions(den, k), compositions(den, n)
    seen: set = set()
    orbits = 0
    for s in rk:
        for A in itertools.product(rk, repeat=k):
            for E in itertools.product(rn, repeat=k):
                key = (s, A, E)
                if key in seen:
                    continue
                orbits += 1
                for sig in itertools.permutations(range(k)):
                    for tau in itertools.permutations(range(n)):
                        s2 = tuple(s[i] for i in sig)
                        A2 = tuple(tuple(A[i][j] for j in sig) for i in sig)
                        E2 = tuple(tuple(E[i][t] for t in tau) for i in sig)
                        seen.add((s2, A2, E2))
    return orbits


@pytest.mark.parametrize(("k", "n", "den"), [(2, 2, 2), (2, 3, 2), (2, 2, 3), (3, 2, 1)])
def test_canonical_forms_count_the_orbits(k: int, n: int, den: int) -> None:
    cell = Cell(k, n, den)
    idx = np.arange(cell.models)
    s, A, E = cell.decode(idx)
    assert (cell.encode(s, A, E) == idx).all()
    assert np.all(s.sum(1) == den) and np.all(A.sum(2) == den) and np.all(E.sum(2) == den)
    assert int(cell.canonical(idx).sum()) == _orbits_brute(k, n, den)


def test_tasks_are_one_per_sign_pair() -> None:
    mus = tasks(3)
    assert len(mus) == (3**3 - 1) // 2
    assert len({tuple(-v for v in m) for m in mus} | set(mus)) == 3**3 - 1


def test_separable_decides_gordan_exactly() -> None:
    F = Fraction
    assert separable([[F(1), F(0)], [F(0), F(1)]])[0]
    sep, lam, sub = separable([[F(1), F(0)], [F(-1), F(0)], [F(0), F(1)]])
    assert not sep and sub == [0, 1] and lam == [F(1, 2), F(1, 2)]
    # 0 in the hull of three points only (no two are opposite)
    sep, lam, _ = separable([[F(1), F(0)], [F(-1), F(1)], [F(-1), F(-1)], [F(1), F(3)]])
    assert not sep and sum(lam) == 1 and all(v >= 0 for v in lam)


def _decisions(records: list[dict]) -> list:
    drop = {"seconds", "instances_per_s"}
    return [
        (r["id"], r["status"], r["message"],
         {k: v for k, v in r["counts"].items() if k not in drop and k != "part_a"},
         r["case"])
        for r in records
    ]  # fmt: skip


def test_chunks_resume_and_any_worker_count_agree(tmp_path: Path) -> None:
    scope = Scope((2,), (2, 3), (1,), 2)
    ids = HMM_IDS
    one = prove(ids, scope, tmp_path / "a", engine=Engine("local", 1), chunk_size=100)
    two = prove(ids, scope, tmp_path / "b", engine=Engine("local", 2), chunk_size=350)
    assert _decisions(one.records) == _decisions(two.records)
    assert one.totals["models"] == 243 + 972 and one.totals["orbits"] == 72 + 114
    assert one.totals["chunks"] == 3 + 10
    # resume: every chunk is read back; a damaged one is named and recomputed
    folder = Path(one.totals["chunk_dir"])
    files = sorted(folder.glob("*.json"))
    files[0].write_text("{not json", encoding="utf-8")
    files[1].unlink()
    again = prove(ids, scope, tmp_path / "a", engine=Engine("local", 1), chunk_size=100)
    assert again.totals["chunks_damaged"] == [files[0].name]
    assert again.totals["chunks_resumed"] == len(files) - 2
    assert _decisions(again.records) == _decisions(one.records)


#: Index slices of k = 3 cells (T = 1) holding the smallest witnesses that the full
#: scopes find: head.necessary's (den = 2, model #5917) and prompt.weaker's (den = 3,
#: model #325508), with head.rowspace and prompt.exact exercised (both labels).
SLICES = ((Cell(3, 2, 2), 5900, 6000), (Cell(3, 2, 3), 325500, 325520))


def test_small_scope_proves_every_supported_claim(tmp_path: Path) -> None:
    """The CI proof: all of k = 2 (n = 2, T ≤ 2), then two k = 3 slices. Every supported
    claim is decided with no counterexample and no float/exact disagreement; each universal
    claim is exercised (both labels) somewhere; both existential witnesses are found, with
    exact certificates."""
    out = {r["id"]: r for r in prove(HMM_IDS, Scope((2,), (2,), (1, 2), 2),
                                     tmp_path).records}  # fmt: skip
    assert out["head.exact"]["status"] == "held"
    assert out["head.exact"]["strength"] == "proved"
    assert out["prompt.multi_token"]["status"] == "held"
    for rec in out.values():  # e.g. mutants 40-42 disagree on this scope
        assert rec["counts"]["float_vs_exact_disagreements"] == 0, rec["id"]
        assert rec["counts"]["failed"] == 0, rec["id"]
    assert out["prompt.weaker"]["counts"]["part_a"]["passed"] > 0  # (a) proved on k = 2
    # k = 2: rank-deficient W has identical rows, so one label: vacuous, never held
    assert out["head.rowspace"]["status"] == "vacuous"
    assert out["head.necessary"]["status"] == "not_found"
    total = {cid: Tally() for cid in [*HMM_IDS, WEAKER_A]}
    for cell, lo, hi in SLICES:
        res = decide_chunk(cell, lo, hi, (1,), HMM_IDS)
        for cid, d in res["tallies"].items():
            total[cid].merge(Tally.from_dict(d))
    for cid, t in total.items():
        assert t.failed == 0 and t.disagreements == 0 and t.inconclusive == 0, cid
    for cid in ("head.rowspace", "prompt.exact", "prompt.multi_token"):
        assert total[cid].exercised > 0, cid
    nec, weak = total["head.necessary"], total["prompt.weaker"]
    assert nec.first_witness[0] == [3, 2, 1, 2, 5917, 3]
    assert weak.first_witness[0] == [3, 2, 1, 3, 325508, 10]
    for w in (nec.first_witness, weak.first_witness):
        assert w[3]["exact"] is True and check_certificate(w[3])[0]


def test_cli_prove_results_cases_and_replay(tmp_path: Path, capsys) -> None:
    rd = tmp_path / "r"
    code = main(["prove", "head.exact", "prompt.multi_token", "head.robust", "--k", "2",
                 "--n", "2", "--T", "1:2", "--report-dir", str(rd), "--quiet"])  # fmt: skip
    assert code == 0
    doc = json.loads((rd / "results.json").read_text(encoding="utf-8"))
    assert doc["mode"] == "prove" and doc["scope"]["den"] == 2
    assert "head.robust" in doc["not_expressible"]
    r = doc["claims"][0]
    assert (r["status"], r["strength"], r["profile"]) == ("held", "proved", "prove")
    assert r["counts"]["models"] == 243 and r["counts"]["orbits"] == 72
    assert r["counts"]["float_vs_exact_disagreements"] == 0
    assert (rd / "index.html").exists()
    assert main(["prove", "--k", "9", "--report-dir", str(rd)]) == 2
    assert "--k" in capsys.readouterr().err


def test_prove_finds_smallest_witness_with_replayable_case(tmp_path: Path) -> None:
    from verify.claims import get
    from verify.harness.prove import _case
    from verify.reports import validate_case

    res = decide_chunk(Cell(3, 2, 2), 5900, 6000, (1,), ["head.necessary"])
    slot = res["tallies"]["head.necessary"]["first_witness"]
    case = validate_case(json.loads(json.dumps(_case(get("head.necessary"), "witness", slot))))
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    assert main(["replay", str(path)]) == 0


def test_memory_iid_exact_is_proved_on_its_memory_cells(tmp_path: Path) -> None:
    """memory.iid_exact on every N = 1, i.i.d. memory model with m = s = 2, n = 2, T = 1 in
    halves: held, with its own model count (3 priors × 3 π_S × 3⁴ emissions)."""
    scope = Scope((2,), (2,), (1,), 2, (2,), (2,))
    (rec,) = prove(["memory.iid_exact"], scope, tmp_path).records
    assert rec["status"] == "held" and rec["strength"] == "proved"
    assert rec["counts"]["models"] == 729 and rec["counts"]["exercised"] > 0
    assert rec["counts"]["float_vs_exact_disagreements"] == 0


def test_every_decider_records_a_float_disagreement_on_an_ill_posed_instance(monkeypatch) -> None:
    """γ = 0 instances are discarded, but the float route's verdict on them still counts: with
    a float ill-posedness test that never fires (bound -1), each ill-posed instance is a
    disagreement in every decider that meets one (head.necessary and prompt.weaker once
    dropped it: issue 21's one helper, _ill_posed)."""
    from verify.core import task

    monkeypatch.setattr(task, "float_error_bound", lambda mu, T, k: -1.0)
    res = decide_chunk(Cell(2, 2, 2), 0, 243, (1, 2), HMM_IDS)
    for cid in ("head.exact", "head.necessary", "prompt.exact", "prompt.weaker"):
        t = res["tallies"][cid]
        ill = t["discarded"].get("ill-posed: γ = 0 on 𝒮", 0)
        assert ill > 0 and t["disagreements"] == ill, (cid, ill, t["disagreements"])
        assert "float test γ ≤ -1 differs from exact γ = 0" in t["first_disagreement"][1]
