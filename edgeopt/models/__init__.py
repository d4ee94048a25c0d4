"""Model sources: built-in reference models and loaders for PyTorch, ONNX, TFLite, OpenVINO."""
