"""Measurements every step shares: output comparison, accuracy, latency statistics and timing.

A leaf of the package graph above runtimes and data: optimize, targets and bench use it.
"""
