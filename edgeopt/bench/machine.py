"""What machine a benchmark ran on, and whether it was quiet enough to trust."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def describe() -> dict:
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "hostname": platform.node(),
        "load_start": load_average(),
    }


CV_WARN = 0.10


def noise_warnings(machine: dict, artifacts: list[dict]) -> list[str]:
    """Plain warnings when the spread or the load says the figures may not be reliable."""
    out = []
    cores = machine.get("usable_cores") or 1
    for key in ("load_start", "load_end"):
        la = machine.get(key)
        if la and la[0] > 0.7 * cores:
            when = "start" if key == "load_start" else "end"
            out.append(
                f"machine busy at {when}: 1-min load average {la[0]} on {cores} core(s); "
                "other processes compete for the CPU, so absolute latencies are "
                "unreliable (same-run ratios are still paired)"
            )
    for a in artifacts:
        lat = a.get("latency") or {}
        cv = lat.get("cv")
        if cv is not None and cv == cv and cv > CV_WARN:
            out.append(
                f"{a['name']}: coefficient of variation {cv:.0%} (> {CV_WARN:.0%}); "
                "latency is noisy here, trust the CIs rather than single numbers"
            )
    return out
