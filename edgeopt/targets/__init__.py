"""Targets: turn an artifact into what one kind of device runs best, and say how to run it."""

from edgeopt.targets.base import CompileOptions, Target

__all__ = ["CompileOptions", "Target"]
