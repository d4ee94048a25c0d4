"""Optional experiment tracking: every candidate as an MLflow run in a local store (mlruns/)."""

from __future__ import annotations

import os
from pathlib import Path

from edgeopt.errors import EdgeoptError


class MlflowTracker:
    def __init__(self, recipe, store: Path = Path("mlruns")):
        try:
            import mlflow
        except ImportError as e:
            raise EdgeoptError(
                "--track mlflow needs the mlflow package, which is not installed",
                "install the extra: pip install 'edgeopt[mlflow]'",
            ) from e
        self.mlflow = mlflow
        # MLflow 3 asks for an explicit opt-in to the plain-folder store that `mlflow ui` reads
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(Path(store).resolve().as_uri())
        mlflow.set_experiment(f"edgeopt-{recipe.name}")
        self.parent = mlflow.start_run(run_name=recipe.name)
        mlflow.log_param("model", recipe.model)
        if recipe.path:
            mlflow.log_artifact(str(recipe.path))

    def log_target(self, target: str, result: dict) -> None:
        mlflow = self.mlflow
        for r in result.get("candidates", []):
            with mlflow.start_run(run_name=f"{target}/{r['name']}", nested=True):
                mlflow.log_params(
                    {"target": target, **{k: v for k, v in r["candidate"].items() if v is not None}}
                )
                metrics = {
                    k: float(v)
                    for k, v in r["metrics"].items()
                    if isinstance(v, (int, float)) and v is not None
                }
                metrics["passed"] = float(r["verdict"]["passed"])
                metrics["chosen"] = float(r["name"] == result.get("chosen"))
                mlflow.log_metrics(metrics)
                if r.get("path") and Path(r["path"]).exists():
                    mlflow.log_artifact(r["path"])

    def close(self, reports: dict) -> None:
        for p in reports.values():
            self.mlflow.log_artifact(str(p))
        self.mlflow.end_run()
