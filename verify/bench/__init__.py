"""Benchmarks (``ptverify bench NAME``): each module has ``run(quick=False)`` that prints
ratios against a baseline measured in the same process."""
