"""edgeopt: take trained models to edge devices."""

__version__ = "0.1.0"
