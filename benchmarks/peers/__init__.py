"""benchmarks/peer_pipelines.py in parts: problems, peer recipes, edgeopt's row, timing, report."""
