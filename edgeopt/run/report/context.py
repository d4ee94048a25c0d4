"""Reading a run folder back: run.json, each target's bench results and the chosen artifacts'
sidecars, with paths resolved inside the folder (so a moved or copied run still renders)."""

from __future__ import annotations

import json
from pathlib import Path

from edgeopt.errors import UsageError

SUPPORTED_SCHEMAS = (1,)


def load_run(run_dir: str | Path) -> dict:
    """run.json of `run_dir` (a run folder, or the run.json itself), checked enough to render."""
    p = Path(run_dir)
    path = p if p.is_file() else p / "run.json"
    if not path.exists():
        raise UsageError(
            f"{p} is not a run folder: it has no run.json",
            "pass a folder written by `optimize run` (it prints `run folder: ...`)",
        )
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(
            f"{path} is not valid JSON ({e})", "rerun `optimize run`, or restore the file"
        ) from e
    if not isinstance(summary, dict) or "targets" not in summary or "recipe" not in summary:
        raise UsageError(f"{path} is not an edgeopt run.json", "pass a run folder's run.json")
    version = summary.get("schema_version")
    if version not in SUPPORTED_SCHEMAS:
        raise UsageError(
            f"{path} has run schema {version}; this edgeopt reads {SUPPORTED_SCHEMAS}",
            "render it with the edgeopt release that wrote it",
        )
    summary["_dir"] = str(path.parent)
    return summary


def run_dir_of(summary: dict) -> Path:
    return Path(summary.get("_dir") or summary["run_dir"])


def _inside(summary: dict, recorded: str | None) -> Path | None:
    """A path recorded in run.json, moved into the folder where run.json now is."""
    if not recorded:
        return None
    here, then = run_dir_of(summary), Path(summary.get("run_dir") or "")
    try:
        moved = here / Path(recorded).relative_to(then)
    except ValueError:
        moved = None
    for cand in (moved, Path(recorded)):
        if cand is not None and cand.exists():
            return cand
    return None


def target_results(summary: dict, target: str) -> dict | None:
    """The bench results.json of one target (latency samples, per-class accuracy), if kept."""
    t = summary["targets"][target]
    p = _inside(summary, (t.get("report") or {}).get("json"))
    p = p or run_dir_of(summary) / "reports" / target / "results.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def sidecar(summary: dict, row: dict | None) -> dict | None:
    """The sidecar (tools, params, parity) of a candidate's artifact in the run folder."""
    if not row or not row.get("path"):
        return None
    p = _inside(summary, row["path"] + ".edgeopt.json")
    if p is None:
        return None
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def artifact_of(results: dict | None, row: dict) -> dict | None:
    """The bench result of a candidate row (matched by path, else by file name)."""
    if not results:
        return None
    arts = [a for a in results.get("artifacts", []) if a.get("role") != "baseline"]
    for a in arts:
        if row.get("path") and a.get("path") == row["path"]:
            return a
    return next((a for a in arts if a.get("name") == row.get("file")), None)


def baseline_of(results: dict | None) -> dict | None:
    if not results:
        return None
    return next((a for a in results.get("artifacts", []) if a.get("role") == "baseline"), None)


def chosen_row(target: dict) -> dict | None:
    return next(
        (r for r in target.get("candidates", []) if r["name"] == target.get("chosen")), None
    )


def quality_of(m: dict) -> tuple[float | None, str]:
    """The quality figure the Pareto plot uses and its name: top-1, else agreement."""
    if m.get("top1") is not None:
        return m["top1"], "top-1 accuracy"
    if m.get("agreement") is not None:
        return m["agreement"], "top-1 agreement with the reference"
    q = (m.get("quality") or {}).get("cosine_mean")
    return q, "mean cosine to the reference"
