"""Calibration, training and evaluation data from spec strings, with a deterministic split."""

from edgeopt.data.datasets import Dataset, fit_inputs, load_dataset

__all__ = ["Dataset", "fit_inputs", "load_dataset"]
