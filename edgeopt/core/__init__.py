"""Small typed objects shared by every step: tensor specs, artifacts, file helpers, progress."""
