"""The exact route (verify.crosscheck) against independent routes: its own path enumeration,
verify/crosscheck/bruteforce.py, and the float inference/conditions to 1e-12; exact identities with
zero error; size refusals and bad inputs."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies as S
import verify.core.conditions as cond
import verify.core.inference as inference
import verify.crosscheck as ex
from verify.core import task
from verify.core.models import HMM, MemoryHMM
from verify.crosscheck import bruteforce

AGREE = 1e-12  # exact values rounded once vs a float64 recursion on tiny models
FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def all_inputs(n, T):
    return np.array(list(itertools.product(range(n), repeat=T)), dtype=np.int64).reshape(n**T, T)


def possible(model, xs):
    return xs[np.isfinite(inference.log_likelihood(model, xs))]


def loo_possible(hmm, x):
    """x has positive probability on its own (chain starting at x_1 with law start)."""
    return bruteforce.likelihood_input_alone(hmm.start, hmm.transition, hmm.emission, x) > 0


def frac_hmm(start, A, E):
    return ex.rational_model({"kind": "hmm", "start": start, "transition": A, "emission": E})


# --------------------------------------------------------------------------- oracle


@FAST
@given(
    S.hmms(n_states=(1, 3), n_tokens=(1, 3), stationary=False),
    st.integers(0, 3),
    st.data(),
)
def test_oracle_routes_agree_with_bruteforce_and_inference(hmm, T, data):
    xs = possible(hmm, all_inputs(hmm.n_tokens, T))
    if not len(xs):
        return
    k = hmm.n_states
    exact = ex.rational_model(hmm)
    prompt = np.array(
        data.draw(
            st.lists(
                st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=k, max_size=k),
                min_size=1,
                max_size=2,
            )
        )  # fmt: skip
    )
    args = (hmm.start, hmm.transition, hmm.emission)
    post = ex.posterior_h0(exact, xs)
    assert (post.fractions() == ex.posterior_h0(exact, xs, route="enumerate").fractions()).all()
    G = ex.mask_probe(exact, xs)
    assert (G.fractions() == ex.mask_probe(exact, xs, route="enumerate").fractions()).all()
    np.testing.assert_allclose(post.to_float(), inference.posterior_h0(hmm, xs), atol=AGREE)
    np.testing.assert_allclose(G.to_float(), inference.mask_probe(hmm, xs), atol=AGREE)
    lik = ex.likelihood(exact, xs)
    assert (lik == ex.likelihood(exact, xs, route="enumerate")).all()
    np.testing.assert_allclose(
        lik.astype(float), np.exp(inference.log_likelihood(hmm, xs)), rtol=1e-12
    )
    loo_xs = np.array([x for x in xs if T and loo_possible(hmm, x)], dtype=np.int64)
    if len(loo_xs):
        loo = ex.loo_conditionals(exact, loo_xs)
        assert (loo.fractions() == ex.loo_conditionals(exact, loo_xs, route="enumerate")
                .fractions()).all()  # fmt: skip
        np.testing.assert_allclose(loo.to_float(), inference.loo_conditionals(hmm, loo_xs),
                                   atol=AGREE)  # fmt: skip
        for i in range(min(len(loo_xs), 4)):
            np.testing.assert_allclose(loo.to_float()[i], bruteforce.loo(*args, loo_xs[i]),
                                       atol=AGREE)  # fmt: skip
    try:
        Gu = ex.prompted_mask_probe(exact, xs, prompt)
    except ValueError:  # the prompt has probability zero: the float route must agree
        with pytest.raises(ValueError):
            inference.prompted_mask_probe(hmm, xs, prompt)
        return
    assert (
        Gu.fractions() == ex.prompted_mask_probe(exact, xs, prompt, route="enumerate").fractions()
    ).all()
    np.testing.assert_allclose(
        Gu.to_float(), inference.prompted_mask_probe(hmm, xs, prompt), atol=AGREE
    )
    for i in range(min(len(xs), 4)):
        np.testing.assert_allclose(G.to_float()[i], bruteforce.mask_probe(*args, xs[i]), atol=AGREE)
        np.testing.assert_allclose(
            Gu.to_float()[i], bruteforce.mask_probe(*args, xs[i], prompt), atol=AGREE
        )


@FAST
@given(S.memory_hmms(n_cells=(1, 2), n_values=(2, 3), n_ordinary=(1, 3), n_tokens=(2, 3)),
       st.integers(1, 3), st.data())  # fmt: skip
def test_memory_posterior_routes_agree(mem, T, data):
    xs = possible(mem, all_inputs(mem.n_tokens, T))[:12]
    cell = data.draw(st.integers(0, mem.n_cells - 1))
    exact = ex.rational_model(mem)
    q = ex.memory_posterior(exact, xs, cell)
    assert (
        q.fractions() == ex.memory_posterior(exact, xs, cell, route="enumerate").fractions()
    ).all()
    np.testing.assert_allclose(q.to_float(), inference.memory_posterior(mem, xs, cell), atol=AGREE)
    for i in range(min(len(xs), 3)):
        np.testing.assert_allclose(q.to_float()[i], bruteforce.memory_posterior(mem, xs[i], cell),
                                   atol=AGREE)  # fmt: skip
    # P[M | S_0 = s0, x]: enumeration vs the sum route vs the float route on a restricted start
    s0 = data.draw(st.integers(0, mem.n_ordinary - 1))
    if mem.state_start[s0] == 0:
        with pytest.raises(ValueError, match="P\\(S_0"):
            ex.memory_posterior(exact, xs, cell, s0=s0)
        return
    prod = mem.as_hmm()
    start = prod.start * (np.arange(prod.n_states) % mem.n_ordinary == s0)
    cond_hmm = HMM(start / start.sum(), prod.transition, prod.emission)
    keep = np.isfinite(inference.log_likelihood(cond_hmm, xs))
    xs = xs[keep]
    if not len(xs):
        return
    qs = ex.memory_posterior(exact, xs, cell, s0=s0)
    assert (qs.fractions() == ex.memory_posterior(exact, xs, cell, s0=s0, route="enumerate")
            .fractions()).all()  # fmt: skip
    ref = np.asarray(inference.posterior_h0(cond_hmm, xs)) @ mem.cell_marginalizer(cell)
    np.testing.assert_allclose(qs.to_float(), ref, atol=AGREE)


def test_prompt_likelihood_and_theory_form_of_the_prompted_probe():
    """THEORY §2: for a stationary start, the window's G(u, x) equals
    W diag(v) p(x) / (vᵀ p(x)) with v = R w_L — exactly, in rationals."""
    A = [["1/2", "1/2", "0"], ["1/4", "1/4", "1/2"], ["1/3", "0", "2/3"]]
    E = [["1", "0"], ["1/2", "1/2"], ["0", "1"]]
    A_f = [[Fraction(v) for v in r] for r in A]
    law = ex.rational.stationary_law(A_f)
    hmm = frac_hmm(law, A, E)
    prompt = [["1", "1/2", "0"], ["1/3", "1", "1"]]
    v = ex.prompt_likelihood(hmm, prompt)
    np.testing.assert_allclose(
        [float(x) for x in v],
        inference.prompt_likelihood(hmm.to_float(), np.array([[1, 0.5, 0], [1 / 3, 1, 1]])),
        atol=AGREE,
    )
    xs = all_inputs(2, 3)
    p = ex.posterior_h0(hmm, xs).fractions()
    G = ex.prompted_mask_probe(hmm, xs, prompt).fractions()
    for i in range(len(xs)):
        q = [v[h] * p[i, h] for h in range(3)]
        tot = sum(q)
        want = [sum(hmm.emission[h][x] * q[h] for h in range(3)) / tot for x in range(2)]
        assert list(G[i]) == want


# --------------------------------------------------------------------------- conditions


@FAST
@given(st.data())
def test_c_head_exact_matches_float_on_both_sides(data):
    mode = data.draw(st.sampled_from(["satisfying", "violating"]))
    hmm = data.draw(S.hmms(n_states=(2, 5), n_tokens=(1, 6), **{mode: "C-HEAD"}))
    c = ex.c_head(hmm)
    assert c.holds == (mode == "satisfying") == cond.c_head(hmm).holds
    assert c.quantities["rank"] == int(cond.c_head(hmm).quantities["rank"])


@FAST
@given(S.task_instances(n_states=(2, 4), n_tokens=(2, 4), T=(1, 3), satisfying="C-HEAD"))
def test_head_witness_identity_is_exact(inst):
    """b* = pinv(W)ᵀμ gives b*ᵀG(x) = μᵀp(x) with zero error; μ taken at its float value."""
    exact = ex.rational_model(inst.hmm)
    c = ex.c_head_mu(exact, inst.mu)
    assert c.holds and c.quantities["residual_sq"] == 0
    b = c.witness["b"]
    np.testing.assert_allclose([float(v) for v in b],
                               np.linalg.pinv(inst.hmm.W).T @ inst.mu, atol=1e-9)  # fmt: skip
    lhs = ex.mask_probe(exact, inst.xs).dot(b)
    rhs = ex.posterior_h0(exact, inst.xs).dot(inst.mu)
    assert (lhs == rhs).all()
    assert (ex.labels(exact, inst.xs, inst.mu) == task.labels(inst.hmm, inst.xs, inst.mu)).all()


@FAST
@given(S.prompt_instances(n_states=(3, 5), n_tokens=(2, 5), T=(1, 2)))
def test_prompt_conditions_exact(inst):
    """Built with C-PROMPT(μ) true and C-HEAD(μ) false; the exact route decides both, the
    exhaustive search finds a U, and the witness identity bᵀG(u,x) = μᵀp/(vᵀp) is exact."""
    exact = ex.rational_model(inst.hmm)
    mu = [Fraction(v) for v in inst.mu]
    head = ex.c_head_mu(exact, mu)
    assert not head.holds and head.quantities["residual_sq"] > Fraction(1, 10**12)
    given_U = ex.c_prompt(exact, mu, U=inst.U)
    assert given_U.holds and set(given_U.witness["S"]) == set(inst.S)
    found = ex.c_prompt(exact, mu)
    assert found.holds == cond.c_prompt(inst.hmm, inst.mu).holds is True
    U = found.witness["U"]
    u = [[1 if h in U else 0 for h in range(exact.n_states)]]
    w = ex.prompt_witness(exact, mu, u)
    assert w.b is not None and w.leakage == 0
    G = ex.prompted_mask_probe(exact, inst.xs, u)
    p = ex.posterior_h0(exact, inst.xs)
    vp = p.dot(w.v)
    assert (G.dot(w.b) == p.dot(mu) / vp).all()


@FAST
@given(st.data())
def test_memory_conditions_exact_match_float(data):
    name = data.draw(st.sampled_from(["C-MEM-POOL", "C-MEM-PROMPT"]))
    mode = data.draw(st.sampled_from(["satisfying", "violating"]))
    inst = data.draw(S.memory_instances(n_cells=(1, 2), n_values=(2, 3), n_ordinary=(2, 4),
                                        **{mode: name}))  # fmt: skip
    fn = {"C-MEM-POOL": (ex.c_mem_pool, cond.c_mem_pool),
          "C-MEM-PROMPT": (ex.c_mem_prompt, cond.c_mem_prompt)}[name]  # fmt: skip
    e, f = fn[0](inst.mem, inst.mu, inst.cell), fn[1](inst.mem, inst.mu, inst.cell)
    assert e.holds == (mode == "satisfying") == f.holds
    if name == "C-MEM-PROMPT" and e.holds:
        assert e.witness["s0"] in {f.witness["s0"]} | set(range(inst.mem.n_ordinary))
        W0 = inst.mem.W_state(e.witness["s0"])
        np.testing.assert_allclose([float(v) for v in e.witness["b"]],
                                   np.linalg.pinv(W0).T @ inst.mu, atol=1e-9)  # fmt: skip


def test_memory_iid_identity_is_exact():
    """memory.iid_exact: G(x) = W̄ P[M | x] exactly for i.i.d. states (N = 1)."""
    mem = ex.rational_model({
        "kind": "memory_hmm", "memory_prior": [["1/3", "2/3"]], "state_start": ["1/4", "3/4"],
        "state_transition": [["1/4", "3/4"], ["1/4", "3/4"]], "pointer": [0, 0],
        "emission": [["1/2", "1/2", "0"], ["0", "1/3", "2/3"], ["1", "0", "0"],
                     ["1/5", "1/5", "3/5"]],
    })  # fmt: skip
    xs = all_inputs(3, 3)
    b = ex.memory_iid_witness(mem, [2, -1])
    G = ex.mask_probe(mem, xs)
    q = ex.memory_posterior(mem, xs, 0)
    assert (G.dot(b) == q.dot([2, -1])).all()


# --------------------------------------------------------------------------- inputs, limits


def test_rational_model_recognises_small_fractions_and_refuses_others():
    h = HMM([0.5, 0.5], [[1 / 3, 2 / 3], [0.25, 0.75]], [[0.1, 0.9], [1.0, 0.0]])
    r = ex.rational_model(h)
    assert r.transition[0] == (Fraction(1, 3), Fraction(2, 3)) and r.emission[0][0] == Fraction(
        1, 10
    )
    assert ex.rational_model(r.to_dict()).to_dict() == r.to_dict()
    bad = HMM([0.5, 0.5], [[np.pi / 4, 1 - np.pi / 4], [0.5, 0.5]], [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"transition\[0\]\[0\].*not a rational"):
        ex.rational_model(bad)
    with pytest.raises(ValueError, match="emission row 1 sums to 11/10"):
        ex.rational_model({"start": ["1"], "transition": [["1"]], "emission": [["1"]]} | {
            "start": ["1/2", "1/2"], "transition": [["1", "0"], ["0", "1"]],
            "emission": [["1", "0"], ["1/2", "3/5"]]})  # fmt: skip
    with pytest.raises(ValueError, match="not a fraction string"):
        ex.rational_model({"start": ["1/x"], "transition": [["1"]], "emission": [["1"]]})
    with pytest.raises(ValueError, match="missing field"):
        ex.rational_model({"kind": "hmm", "start": ["1"]})


def test_stationary_start_becomes_the_exact_stationary_law():
    A = np.array([[1, 2, 4], [3, 1, 0], [2, 2, 3]], float)
    A /= A.sum(1, keepdims=True)
    from verify.core.models import stationary_distribution

    pi = stationary_distribution(A)
    r = ex.rational_model(HMM(pi, A, np.eye(3)))
    assert r.is_stationary
    np.testing.assert_allclose([float(v) for v in r.start], pi, atol=1e-12)


def test_bad_inputs_name_the_field():
    hmm = frac_hmm(["1/2", "1/2"], [["1/2", "1/2"], ["1", "0"]], [["1", "0"], ["0", "1"]])
    with pytest.raises(ValueError, match="token 2"):
        ex.posterior_h0(hmm, [[0, 2]])
    with pytest.raises(ValueError, match="shape \\(B, T\\)"):
        ex.posterior_h0(hmm, [0, 1])
    with pytest.raises(ValueError, match="integer token ids"):
        ex.mask_probe(hmm, [[0.5]])
    with pytest.raises(ValueError, match="prompt row 0 has 3 weights"):
        ex.prompted_mask_probe(hmm, [[0]], [[1, 0, 0]])
    with pytest.raises(ValueError, match="probability zero"):
        ex.posterior_h0(frac_hmm(["1"], [["1"]], [["1", "0"]]), [[1]])
    with pytest.raises(ValueError, match="route must be"):
        ex.posterior_h0(hmm, [[0]], route="magic")
    with pytest.raises(ValueError, match="mu has 3 entries"):
        ex.c_head_mu(hmm, [1, 2, 3])
    with pytest.raises(ValueError, match="needs a memory model"):
        ex.memory_posterior(hmm, [[0]], 0)
    mem = ex.rational_model({"kind": "memory_hmm", "memory_prior": [["1"]],
                             "state_start": ["1"], "state_transition": [["1"]], "pointer": [0],
                             "emission": [["1/2", "1/2"]]})  # fmt: skip
    with pytest.raises(ValueError, match="cell = 2 is out of range"):
        ex.c_mem_pool(mem, [1], 2)
    with pytest.raises(ValueError, match="s0 = 5 is out of range"):
        ex.memory_posterior(mem, [[0]], np.int64(0), s0=5)
    with pytest.raises(ValueError, match="about an HMM"):
        ex.c_head(mem)


def test_size_limits_refuse_with_a_clear_message():
    k = ex.MAX_EXACT_STATES + 1
    big = HMM(np.full(k, 1 / k), np.full((k, k), 1 / k), np.full((k, 2), 0.5))
    with pytest.raises(ex.ExactTooLarge, match="MAX_EXACT_STATES = 64"):
        ex.posterior_h0(big, [[0]])
    small = frac_hmm(["1/2", "1/2"], [["1/2", "1/2"], ["1", "0"]], [["1", "0"], ["0", "1"]])
    with pytest.raises(ex.ExactTooLarge, match="MAX_EXACT_T"):
        ex.posterior_h0(small, np.zeros((1, ex.MAX_EXACT_T), dtype=int))
    with pytest.raises(ex.ExactTooLarge, match="MAX_ENUM_PATHS"):
        ex.posterior_h0(small, np.zeros((10, 14), dtype=int), route="enumerate")
    with pytest.raises(ex.ExactTooLarge, match="MAX_SUM_WORK"):
        ex.posterior_h0(small, np.zeros((ex.MAX_SUM_WORK // 40 + 1, 9), dtype=int))
    wide = HMM(np.full(16, 1 / 16), np.full((16, 16), 1 / 16), np.eye(16))
    with pytest.raises(ex.ExactTooLarge, match="MAX_PROMPT_SEARCH_STATES"):
        ex.c_prompt(wide, np.ones(16))


def test_memory_with_two_cells_fits():
    """N = 2 cells, m = 3, s = 3 (27 product states), T = 4: the documented size fits."""
    rng = np.random.default_rng(0)

    def rows(r, c):
        w = rng.integers(1, 4, (r, c)).astype(float)
        return w / w.sum(1, keepdims=True)

    mem = MemoryHMM(rows(2, 3), rows(1, 3)[0], rows(3, 3), [0, 1, 0], rows(9, 3))
    xs = all_inputs(3, 4)
    q = ex.memory_posterior(mem, xs, 1)
    np.testing.assert_allclose(q.to_float(), inference.memory_posterior(mem, xs, 1), atol=AGREE)
    loo = ex.loo_conditionals(mem, xs[:50])
    np.testing.assert_allclose(loo.to_float(), inference.loo_conditionals(mem, xs[:50]),
                               atol=AGREE)  # fmt: skip


# --------------------------------------------------------------------------- log-space route


def test_logspace_route_matches_inference_at_T_10000():
    """The second float route (no scaling, no shared code) agrees with the scaled recursion
    to 1e-10 on sequences of length 10⁴, including a transient state and a sparse row."""
    from verify.core.models import stationary_distribution

    rng = np.random.default_rng(7)
    A = rng.random((4, 4))
    A[0, 2] = A[3, 1] = 0.0
    A /= A.sum(1, keepdims=True)
    E = rng.random((4, 3))
    E[1, 0] = 0.0
    E /= E.sum(1, keepdims=True)
    hmm = HMM(stationary_distribution(A), A, E)
    xs, _ = hmm.sample(2, 10_000, rng)
    ls = ex.logspace
    np.testing.assert_allclose(
        ls.posterior_h0(hmm, xs), inference.posterior_h0(hmm, xs), atol=1e-10
    )
    u = rng.random((2, 4))
    np.testing.assert_allclose(ls.prompted_mask_probe(hmm, xs, u),
                               inference.prompted_mask_probe(hmm, xs, u), atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(ls.loo_conditionals(hmm, xs), inference.loo_conditionals(hmm, xs),
                               atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(ls.log_likelihood(hmm, xs), inference.log_likelihood(hmm, xs),
                               rtol=1e-12)  # fmt: skip


@FAST
@given(S.memory_hmms(n_cells=(1, 2), n_values=(2, 3), n_ordinary=(1, 3), n_tokens=(2, 3)),
       st.integers(1, 3), st.data())  # fmt: skip
def test_logspace_route_matches_exact_on_small_instances(mem, T, data):
    xs = possible(mem, all_inputs(mem.n_tokens, T))[:10]
    cell = data.draw(st.integers(0, mem.n_cells - 1))
    exact = ex.rational_model(mem)
    want = ex.memory_posterior(exact, xs, cell).to_float()
    np.testing.assert_allclose(ex.logspace.memory_posterior(mem, xs, cell), want, atol=AGREE)
    want = ex.mask_probe(exact, xs).to_float()
    np.testing.assert_allclose(ex.logspace.mask_probe(mem, xs), want, atol=AGREE)
    with pytest.raises(ValueError, match="probability zero"):
        ex.logspace.posterior_h0(HMM([1.0], [[1.0]], [[1.0, 0.0]]), [[1]])


# --------------------------------------------------------------------------- certificates

#: A head.necessary instance found by hypothesis.find over strategies.task_instances(
#: violating="C-HEAD", n_states=(2, 3), n_tokens=(2, 3), T=(1, 2)): emission row 2 is the
#: average of rows 0 and 1 ("mixture-column").
NECESSARY = {
    "kind": "hmm",
    "start": ["3/11", "4/11", "4/11"],
    "transition": [["1/3", "1/3", "1/3"], ["1/4", "1/4", "1/2"], ["1/4", "1/2", "1/4"]],
    "emission": [["1/3", "1/3", "1/3"], ["0", "0", "1"], ["1/6", "1/6", "2/3"]],
}
NECESSARY_MU = [0.69097222, 0.69097222, -1.30902778]


def _lp_certificate(model, mu, xs, **kw):
    from verify.recovery.lp import max_margin_head

    y = ex.labels(model, xs, mu)
    keep = y != 0
    xs, y = xs[keep], y[keep]
    F = ex.mask_probe(model, xs).to_float() if "prompt" not in kw else \
        ex.prompted_mask_probe(model, xs, kw["prompt"]).to_float()  # fmt: skip
    res = max_margin_head(F, y)
    assert res.status == "not_recoverable"
    return ex.find_certificate(model, xs, y, res.support(), lambda_hint=res.certificate,
                               task={"mu": mu}, **kw)  # fmt: skip


def test_certificate_round_trip_and_tampering():
    import json

    model = ex.rational_model(NECESSARY)
    cert = _lp_certificate(model, NECESSARY_MU, all_inputs(3, 2))
    assert cert is not None and cert["exact"] is True
    cert = json.loads(json.dumps(cert))  # plain JSON survives a round trip
    ok, message = ex.check_certificate(cert)
    assert ok, message
    lam = [Fraction(v) for v in cert["lambda"]]
    assert sum(lam) == 1 and all(v > 0 for v in lam) and set(cert["labels"]) == {1, -1}

    def tampered(edit):
        c = json.loads(json.dumps(cert))
        edit(c)
        return ex.check_certificate(c)

    def shift_lambda(c):
        c["lambda"][0] = str(Fraction(c["lambda"][0]) + Fraction(1, 97))
        c["lambda"][1] = str(Fraction(c["lambda"][1]) - Fraction(1, 97))

    def change_model(c):
        c["model_exact"]["emission"][1] = ["0", "1/100", "99/100"]

    def flip_label(c):
        c["labels"][0] = -c["labels"][0]

    def one_lambda(c):
        c["lambda"][0] = str(Fraction(c["lambda"][0]) + Fraction(1, 1000))

    def float_lambda(c):
        c["lambda"][0] = float(Fraction(c["lambda"][0]))

    for edit, why in [(shift_lambda, "≠ 0"), (change_model, "≠ 0"), (flip_label, "≠ 0"),
                      (one_lambda, "not 1"), (float_lambda, "is a float")]:  # fmt: skip
        ok, message = tampered(edit)
        assert not ok and why in message, (edit.__name__, message)
    # the labels are checked against the embedded task too
    ok, message = tampered(lambda c: c["task"].update(mu=["-1", "-1", "1"]))
    assert not ok and "sign" in message


def test_certificate_for_prompted_features_and_no_certificate_when_recoverable():
    model = ex.rational_model(NECESSARY)
    xs = all_inputs(3, 2)
    cert = _lp_certificate(model, NECESSARY_MU, xs, features="prompted", prompt=[[1, 1, 1]])
    ok, message = ex.check_certificate(cert)
    assert ok and cert["prompt"] == [["1", "1", "1"]], message
    # a recoverable task: the support of any λ has no non-negative null combination
    good = frac_hmm(["1/2", "1/2"], [["1", "0"], ["0", "1"]], [["1", "0"], ["0", "1"]])
    xs2 = all_inputs(2, 1)
    assert ex.find_certificate(good, xs2, [1, -1], [0, 1], features="mask_probe") is None


def test_certificate_from_a_generated_instance():
    """hypothesis.find (generation only, no shrinking) over the head.necessary strategy; the
    LP's support becomes an exact certificate that checks with zero error."""
    from hypothesis import Phase, find

    from verify.recovery.lp import max_margin_head

    def not_recoverable(inst):
        y = ex.labels(inst.hmm, inst.xs, inst.mu)
        return (y != 0).all() and max_margin_head(
            ex.mask_probe(inst.hmm, inst.xs).to_float(), y
        ).status == "not_recoverable"

    inst = find(
        S.task_instances(violating="C-HEAD", n_states=(2, 3), n_tokens=(2, 3), T=(1, 2)),
        not_recoverable,
        settings=settings(database=None, derandomize=True, deadline=None, max_examples=200,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck)),
    )  # fmt: skip
    cert = _lp_certificate(ex.rational_model(inst.hmm), inst.mu, inst.xs)
    ok, message = ex.check_certificate(cert)
    assert ok, message


def _case(cert):
    return {
        "schema": "ptverify.case",
        "schema_version": 1,
        "claim": "head.necessary",
        "claims_from": None,
        "role": "witness",
        "instance": {
            "hmm": ex.rational_model(NECESSARY).to_float().to_dict(),
            "mu": {"array": NECESSARY_MU, "dtype": "float64"},
            "xs": {"array": all_inputs(3, 2).tolist(), "dtype": "int64"},
        },
        "outcome": {"status": "witness", "message": "", "quantities": {},
                    "detail": {"exact_certificate": cert}},
    }  # fmt: skip


def test_replay_and_case_validation_recheck_exact_certificates(tmp_path, capsys):
    import json

    from verify.cli import main
    from verify.reports import load_case, validate_case

    cert = _lp_certificate(ex.rational_model(NECESSARY), NECESSARY_MU, all_inputs(3, 2))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_case(cert)))
    assert main(["replay", str(good)]) == 0
    assert "exact certificate holds" in capsys.readouterr().out
    bad_cert = json.loads(json.dumps(cert))
    bad_cert["model_exact"]["transition"][0] = ["1/2", "1/4", "1/4"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_case(bad_cert)))
    assert main(["replay", str(bad)]) == 1
    assert "does not hold" in capsys.readouterr().out
    with pytest.raises(ValueError, match="exact_certificate: .*≠ 0"):
        load_case(bad)
    validate_case(_case(cert))


def test_certificate_on_a_memory_model_checks_the_task_cell():
    """Mask-probe features of the product HMM; the labels are the memory task's."""
    mem = ex.rational_model({
        "kind": "memory_hmm", "memory_prior": [["1/2", "1/2"]], "state_start": ["1/3", "2/3"],
        "state_transition": [["1/2", "1/2"], ["1/3", "2/3"]], "pointer": [0, 0],
        "emission": [["1/2", "1/2", "0"], ["0", "1/2", "1/2"], ["1/2", "0", "1/2"],
                     ["0", "1/2", "1/2"]],
    })  # fmt: skip
    from verify.recovery.lp import max_margin_head

    xs = all_inputs(3, 2)
    y = ex.labels(mem, xs, [1, -1], cell=0)
    xs, y = xs[y != 0], y[y != 0]
    res = max_margin_head(ex.mask_probe(mem, xs).to_float(), y)
    assert res.status == "not_recoverable"
    cert = ex.find_certificate(mem, xs, y, res.support(), lambda_hint=res.certificate,
                               task={"mu": [1, -1], "cell": 0})  # fmt: skip
    ok, message = ex.check_certificate(cert)
    assert ok and cert["model_exact"]["kind"] == "memory_hmm", message
    cert["task"]["mu"] = ["-1", "1"]
    assert not ex.check_certificate(cert)[0]


@FAST
@given(S.memory_instances(n_cells=(1, 2), n_values=(2, 3), n_ordinary=(2, 3), n_tokens=(2, 4),
                          satisfying="C-MEM-PROMPT", T=(1, 2)))  # fmt: skip
def test_memory_prompt_identity_is_exact(inst):
    """Theorem 4.6's exact step: the prompt u(a, st) = 1[st ∈ U] forces S_0 = s0, so
    G(u, x) = W_{s0} P[M_{j*} | S_0 = s0, x] and bᵀG(u, x) = μᵀ P[M_{j*} | S_0 = s0, x]."""
    exact = ex.rational_model(inst.mem)
    c = ex.c_mem_prompt(exact, inst.mu, inst.cell)
    assert c.holds
    s0, U, b = c.witness["s0"], c.witness["U"], c.witness["b"]
    s = exact.n_ordinary
    u = [[1 if h % s in U else 0 for h in range(exact.n_product_states)]]
    G = ex.prompted_mask_probe(exact, inst.xs, u).fractions()
    q = ex.memory_posterior(exact, inst.xs, inst.cell, s0=s0)
    W0 = exact.W_state(s0)
    qf = q.fractions()
    for i in range(len(inst.xs)):
        assert list(G[i]) == [sum(W0[x][a] * qf[i, a] for a in range(exact.n_values))
                              for x in range(exact.n_tokens)]  # fmt: skip
    assert (ex.prompted_mask_probe(exact, inst.xs, u).dot(b) == q.dot(inst.mu)).all()
