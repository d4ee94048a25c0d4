"""What every row shares: threads, batch 1, sample counts, paths."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
THREADS = 2
CALIB_SAMPLES = 200  # calibration samples given to every peer that calibrates
TIMING_SAMPLES = 16  # distinct evaluation samples cycled through while timing
