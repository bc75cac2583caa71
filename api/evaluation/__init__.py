"""Evaluation and benchmarks: `schutting eval`, `make bench`, `make bench-quality` and friends."""
