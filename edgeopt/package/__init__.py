"""Device bundles: the artifact, a manifest (hashes, I/O spec, results, lineage), samples, a runner."""

from edgeopt.package.bundle import PackageConfig, build_bundle
from edgeopt.package.verify import verify_bundle

__all__ = ["PackageConfig", "build_bundle", "verify_bundle"]
