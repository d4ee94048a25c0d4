"""Measuring artifacts: output comparison, latency statistics, accuracy, gates and reports."""
