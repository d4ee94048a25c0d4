"""Benchmark runs: interleaved timing of artifacts, memory, gates on budgets, and reports."""
