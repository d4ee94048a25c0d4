"""Steps that turn one model into another: export, quantize, prune."""
