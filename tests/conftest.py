"""Test-suite Hypothesis profiles. CI (env CI set) uses the derandomized ``ci`` profile."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# The fast path (`pytest -m "not slow" -n 2`, ≤ 60 s on 2 cores) leaves out these tests:
# each took more than ~2.5 s (on a loaded 2-core machine): trained heads and MLMs, reproduce
# end to end, the Ray cluster, the CLI and gate subprocess runs, long Hypothesis searches.
# CI runs everything. An entry is a test's node id (any parametrization) or a whole file.
SLOW_TESTS = (
    "tests/test_ray.py",
    "tests/test_workflow.py::test_plugin_runs_under_xdist",
    "tests/test_workflow.py::test_pinned_failing_case_fails_run_and_the_plugin_on_the_first_example",
    "tests/test_workflow.py::test_plugin_builtin_claim_is_one_passing_item",
    "tests/test_workflow.py::test_replay_from_another_directory_and_a_changed_module",
    "tests/test_workflow.py::test_plugin_markers_select_by_family_and_kind",
    "tests/test_workflow.py::test_plugin_bad_claims_module_is_a_one_line_collection_error",
    "tests/test_workflow.py::test_plugin_false_user_claim_fails_with_a_replay_that_works_elsewhere",
    "tests/test_workflow.py::test_plugin_inconclusive_claim_is_not_a_pass",
    "tests/test_workflow.py::test_plugin_collects_nothing_without_the_flag",
    "tests/test_workflow.py::test_replay_says_an_edited_instance_no_longer_matches_before_the_verdict",
    "tests/test_mlm.py::test_downstream_features_are_distributions_and_prompt_tuning_is_deterministic",
    "tests/test_trained_claims.py",
    "tests/test_gate.py",
    "tests/test_reproduce.py::test_parallel_panels_equal_the_serial_run",
    "tests/test_reproduce.py::test_engine_pretrains_every_mlm_first_and_gives_the_serial_results",
    "tests/test_reproduce.py::test_tiny_reproduce_writes_csv_figures_and_page",
    "tests/test_reproduce.py::test_missed_tv_target_is_loud_and_resume_reuses_checkpoints",
    "tests/test_cli.py::test_run_builtin_claims_writes_reports_and_report_rebuilds_html",
    "tests/test_cli.py::test_replay_reproduces_a_saved_witness",
    "tests/test_cli.py::test_bad_usage_exits_2_with_a_message_and_no_traceback",
    "tests/test_cli.py::test_python_m_verify_lists_every_claim_one_per_line",
    "tests/test_cli.py::test_run_logs_progress_on_stderr_unless_quiet",
    "tests/test_training.py::test_attention_at_least_pooling_on_memory_instance",
    "tests/test_training.py::test_head_on_c_head_instance_reaches_documented_accuracy",
    "tests/test_mlm.py::test_checkpoint_resume_equals_uninterrupted",
    "tests/test_conditions.py::test_c_head_mu_residual_and_implication",
    "tests/test_conditions.py::test_c_prompt_exact_matches_brute_force",
    "tests/test_conditions.py::test_c_prompt_greedy_is_sound",
    "tests/test_conditions.py::test_c_mem_prompt_witness_forces_s0",
    "tests/test_engines.py::test_a_task_that_kills_every_worker_fails_alone_after_its_retries",
    "tests/test_shards.py::test_a_falsified_shard_gives_the_claim_its_counterexample_and_replays_alone",
    "tests/test_shards.py::test_a_true_claim_holds_with_the_counts_of_every_shard",
    "tests/test_sweep.py::test_local_pool_reruns_the_task_of_a_killed_worker",
    "tests/test_sweep.py::test_local_pool_gives_the_same_decisions_as_one_process",
    "tests/test_sweep.py::test_report_files_and_escaped_html",
    "tests/test_sweep.py::test_strategy_cells_are_deterministic_and_cross_checked",
    "tests/test_sweep.py::test_resume_skips_finished_cells_and_retries_failed_ones",
    "tests/test_sweep.py::test_kill_9_mid_sweep_then_resume_gives_the_same_rows_once",
    "tests/test_inference.py::test_stable_for_ten_thousand_steps_with_peaked_emissions",
    "tests/test_inference.py::test_torch_matches_numpy_and_is_differentiable",
    "tests/test_inference.py::test_agrees_with_hmmlearn",
    "tests/test_inference.py::test_relabelling_states_leaves_probes_unchanged",
    "tests/test_exact.py::test_logspace_route_matches_inference_at_T_10000",
    "tests/test_exact.py::test_head_witness_identity_is_exact",
    "tests/test_exact.py::test_prompt_conditions_exact",
    "tests/test_exact.py::test_size_limits_refuse_with_a_clear_message",
    "tests/test_mlm.py::test_tv_to_oracle_decreases_with_training",
    "tests/test_runner.py::test_parallel_workers_find_user_claims_by_id",
    "tests/test_engines.py::test_the_task_of_a_dead_worker_is_rerun_and_only_that_task",
    "tests/test_engines.py::test_killing_a_run_leaves_no_worker_behind",
    "tests/test_conditions.py::test_prompt_robust_leakage_bounds_the_error",
    "tests/test_conditions.py::test_prompt_witness_recovers_mu_exactly",
    "tests/test_models.py::test_huge_sizes_are_refused_before_allocation",
    "tests/test_recovery.py::test_prompt_exact_identity_and_lp",
    "tests/test_strategies.py::test_prompt_instances_with_inputs_are_balanced",
    "tests/test_strategies.py::test_each_c_head_violation_shrinks_to_a_readable_model",
    "tests/test_strategies.py::test_tasks_are_balanced_with_a_margin",
    "tests/test_strategies.py::test_memory_instances_guarantees",
    "tests/test_strategies.py::test_bench_reports_a_rate_per_strategy",
    "tests/test_strategies.py::test_prompt_instance_shrinks_to_three_states",
    "tests/test_strategies.py::test_task_rejections_stay_rare",
    "tests/test_strategies.py::test_constant_offset_tasks_keep_c_head_mu",
    "tests/test_strategies.py::test_hmms_satisfying_c_head_keep_the_floor",
    "tests/test_strategies.py::test_prompt_instances_satisfy_c_prompt_but_not_c_head_mu",
    "tests/test_strategies.py::test_memory_state_styles",
    "tests/test_strategies.py::test_hmm_transition_styles",
    "tests/test_strategies.py::test_hmms_violating_c_head_really_violate",
    "tests/test_strategies.py::test_reference_strategies",
    "tests/test_strategies.py::test_probability_vectors_floor_and_sum",
    "tests/test_strategies.py::test_stochastic_matrices_rows_are_small_integer_ratios",
)


def pytest_collection_modifyitems(config, items):
    """Mark SLOW_TESTS ``slow``; an entry that matches no test of a collected file is an
    error (a renamed test must not silently join the fast path)."""
    import pytest

    used = set()
    for item in items:
        node = item.nodeid.split("[")[0]
        for entry in SLOW_TESTS:
            if node == entry or node.startswith(entry + "::"):
                item.add_marker(pytest.mark.slow)
                used.add(entry)
    files = {item.nodeid.split("::")[0] for item in items}
    stale = [e for e in SLOW_TESTS if e.split("::")[0] in files and e not in used]
    picked = any("::" in str(a) for a in config.args)  # single tests were asked for
    if stale and not picked and not config.getoption("keyword"):
        raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS names no collected test: {stale}")
