"""Calibration, training and evaluation data from spec strings, with a deterministic split."""

from edgeopt.data.base import Dataset
from edgeopt.data.datasets import DataRef, data_ref_name, load_dataset, resolve_data
from edgeopt.data.inputs import fit_inputs, random_inputs, sample_arrays

__all__ = [
    "DataRef",
    "Dataset",
    "data_ref_name",
    "fit_inputs",
    "load_dataset",
    "random_inputs",
    "resolve_data",
    "sample_arrays",
]
