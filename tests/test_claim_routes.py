"""The two routes every universal claim compares, and the condition cross-checks:
float vs exact/log-space labels and features, exact C-HEAD rank, brute-force C-PROMPT,
the multi-token reduction of THEORY §5 (prompt.multi_token)."""

from __future__ import annotations

import numpy as np

from verify.claims import _support
from verify.claims.prompt import brute_force_supports, prompt_v
from verify.core.conditions import c_head, c_prompt
from verify.core.inference import mask_probe, posterior_h0, prompted_mask_probe
from verify.core.models import HMM

HMM3 = HMM(
    np.array([1, 1, 1]) / 3,
    np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]),
    np.array([[0.5, 0.5], [0.5, 0.5], [0.75, 0.25]]),  # twin rows 0 and 1: C-HEAD fails
)
XS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
MU = np.array([1.0, 0.0, -1.0])


def test_the_exact_route_agrees_with_the_float_route_and_flags_any_difference():
    score = posterior_h0(HMM3, XS) @ MU
    G = mask_probe(HMM3, XS)
    route = _support.second_route(HMM3, XS, MU)
    assert route.name == "exact"
    assert _support.compare_routes(route, score, G) is None
    flipped = score.copy()
    flipped[0] = -flipped[0]  # a float route that got one label wrong
    assert "disagree on the label" in _support.compare_routes(route, flipped, G)
    assert "differ by" in _support.compare_routes(route, score, G + 1e-8)


def test_a_non_rational_instance_uses_the_log_space_route():
    rng = np.random.default_rng(0)
    A = rng.dirichlet(np.ones(3), size=3)
    E = rng.dirichlet(np.ones(2), size=3)
    hmm = HMM(np.linalg.matrix_power(A, 200)[0], A, E)
    route = _support.second_route(hmm, XS, MU)
    assert route.name == "log-space"
    assert _support.compare_routes(route, posterior_h0(hmm, XS) @ MU, mask_probe(hmm, XS)) is None


def test_c_head_is_compared_with_exact_rank_on_a_violating_model():
    assert _support.exact_c_head(HMM3) is False and not c_head(HMM3).holds


def test_brute_force_c_prompt_agrees_with_the_pruned_search():
    # U = {2}: successors {0, 2} exclude twin 1 and cover supp(μ) = {0, 2}
    assert (0, 2) in brute_force_supports(HMM3, MU)
    assert c_prompt(HMM3, MU).holds
    mu_b = np.array([1.0, -1.0, 0.0])  # μ differs on the twins: both in any cover
    assert not brute_force_supports(HMM3, mu_b) and not c_prompt(HMM3, mu_b).holds


def test_an_l_slot_prompt_equals_the_one_slot_prompt_of_w_l():
    prompt = np.array([[1.0, 0.5, 0.25], [0.0, 1.0, 0.5], [0.5, 0.5, 1.0]])
    w, v = prompt_v(HMM3, prompt)
    GL = prompted_mask_probe(HMM3, XS, prompt)
    assert np.abs(GL - prompted_mask_probe(HMM3, XS, w[None, :])).max() < 1e-12
    p = posterior_h0(HMM3, XS)
    formula = (p * v) @ HMM3.emission / (p @ v)[:, None]
    assert np.abs(GL - formula).max() < 1e-12


def test_pooled_features_and_log_likelihood_are_compared_on_both_second_routes():
    from verify.core.inference import log_likelihood
    from verify.recovery.witnesses import pooled_features

    rng = np.random.default_rng(1)
    A = rng.dirichlet(np.ones(3), size=3)
    E = rng.dirichlet(np.ones(2), size=3)
    irrational = HMM(np.linalg.matrix_power(A, 200)[0], A, E)
    for hmm, name in ((HMM3, "exact"), (irrational, "log-space")):
        score = posterior_h0(hmm, XS) @ MU
        P, ll = pooled_features(hmm, XS), log_likelihood(hmm, XS)
        route = _support.second_route(hmm, XS, MU, kind="pooled", loglik=True)
        assert route.name == name
        assert _support.compare_routes(route, score, P, loglik=ll) is None
        # a log-likelihood short by log k (a dropped scale) and features off by 1e-8
        assert "log p(x)" in _support.compare_routes(route, score, P, loglik=ll - np.log(3))
        assert "differ by" in _support.compare_routes(route, score, P + 1e-8, loglik=ll)


def test_a_model_built_to_violate_c_head_must_violate_it():
    assert _support.built_to_violate_c_head(HMM3, {}, {}) is None
    E = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.25, 0.75]])  # rank 3 = k
    out = _support.built_to_violate_c_head(HMM(HMM3.start, HMM3.transition, E), {}, {})
    assert out.status == "fail" and "C-HEAD holds" in out.message


def test_an_lp_certificate_on_the_wrong_inputs_is_a_counterexample():
    from verify.recovery import max_margin_head

    xs = np.array([[a, b, c] for a in range(2) for b in range(2) for c in range(2)])
    y = np.sign(posterior_h0(HMM3, xs) @ MU)
    res = max_margin_head(mask_probe(HMM3, xs), y)
    assert res.status == "not_recoverable"
    assert _support.certificate_on_route(res, xs, y, HMM3, MU, {}, {}) is None
    moved = res.certificate[np.roll(np.arange(len(xs)), 1)]  # λ shifted to other inputs
    res_moved = type(res)(**{**res.__dict__, "certificate": moved})
    out = _support.certificate_on_route(res_moved, xs, y, HMM3, MU, {}, {})
    assert out.status == "fail" and "does not stand" in out.message
