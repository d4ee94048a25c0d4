"""edgeopt: take trained models to edge devices."""

from importlib import metadata

try:
    __version__ = metadata.version("edgeopt")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
