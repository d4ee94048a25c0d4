"""Artifacts on disk: a model file with its sidecar (metadata, lineage) and the content cache."""

from edgeopt.artifacts.artifact import Artifact, sidecar_path

__all__ = ["Artifact", "sidecar_path"]
