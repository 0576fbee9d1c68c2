"""Benchmark evaluation under recorded conditions (inspect_ai), with confidence intervals,
paired comparisons and a contamination check. See ``runner.py`` for the flow."""
