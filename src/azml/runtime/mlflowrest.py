"""A small client for MLflow's REST API (``/api/2.0/mlflow/...``), standard library only.

Used inside step processes by the ``Run.get_context()`` stand-in (where neither
azml nor MLflow is installed) and by azml's own tracking code, so both speak to
the local tracking server the same way. Only the calls azml needs are wrapped;
:meth:`Client.call` reaches any other endpoint.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

API = "/api/2.0/mlflow/"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts/"
#: MLflow's own cap on one LogBatch request (metrics).
MAX_BATCH_METRICS = 1000


class RestError(Exception):
    """The server answered with an error (``status`` and MLflow's ``error_code``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code or status}: {message}")
        self.status = status
        self.code = code
        self.message = message


class TransportError(Exception):
    """The server could not be reached, or did not answer in time."""


class Client:
    """Calls on one MLflow tracking server, e.g. ``Client("http://127.0.0.1:5123")``."""

    def __init__(self, uri: str, timeout: float = 30.0) -> None:
        self.uri = uri.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, endpoint: str, body: Mapping[str, Any] | None = None,
             query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One JSON request; the decoded answer (``{}`` when empty)."""
        url = self.uri + API + endpoint
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        raw = self._send(urllib.request.Request(url, data=data, headers=headers, method=method))
        return json.loads(raw) if raw else {}

    def _send(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw)
            except ValueError:
                detail = {"message": raw.decode(errors="replace")[:300]}
            raise RestError(exc.code, str(detail.get("error_code", "")),
                            str(detail.get("message", ""))) from None
        except (OSError, urllib.error.URLError) as exc:
            raise TransportError(f"{self.uri}: {getattr(exc, 'reason', exc)}") from None

    # -- experiments and runs ----------------------------------------------------

    def experiment_id(self, name: str, create: bool = True) -> str | None:
        """The id of experiment ``name``; created when missing and ``create`` is set."""
        try:
            found = self.call("GET", "experiments/get-by-name", query={"experiment_name": name})
            return str(found["experiment"]["experiment_id"])
        except RestError as exc:
            if exc.code != "RESOURCE_DOES_NOT_EXIST" or not create:
                if exc.code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise
        try:
            return str(self.call("POST", "experiments/create", {"name": name})["experiment_id"])
        except RestError as exc:  # created meanwhile by another run
            if exc.code != "RESOURCE_ALREADY_EXISTS":
                raise
            return self.experiment_id(name, create=False)

    def create_run(self, experiment_id: str, name: str, tags: Mapping[str, str]) -> dict[str, Any]:
        body = {"experiment_id": experiment_id, "run_name": name, "start_time": now_ms(),
                "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        return dict(self.call("POST", "runs/create", body)["run"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", "runs/get", query={"run_id": run_id})["run"])

    def update_run(self, run_id: str, status: str, end: bool = True) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end:
            body["end_time"] = now_ms()
        self.call("POST", "runs/update", body)

    def log_batch(self, run_id: str, metrics: list[dict[str, Any]] | None = None,
                  tags: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None) -> None:
        """Metrics (``key``/``value``/``timestamp``/``step``), tags and params of one run."""
        metrics = list(metrics or [])
        first = {"run_id": run_id,
                 "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
                 "params": [{"key": k, "value": v} for k, v in (params or {}).items()]}
        room = max(MAX_BATCH_METRICS - len(first["tags"]) - len(first["params"]), 0)
        first["metrics"], rest = metrics[:room], metrics[room:]
        self.call("POST", "runs/log-batch", first)
        for start in range(0, len(rest), MAX_BATCH_METRICS):
            self.call("POST", "runs/log-batch",
                      {"run_id": run_id, "metrics": rest[start:start + MAX_BATCH_METRICS]})

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.call("POST", "runs/set-tag", {"run_id": run_id, "key": key, "value": value})

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        found = self.call("GET", "metrics/get-history",
                          query={"run_id": run_id, "metric_key": key, "max_results": 25000})
        return list(found.get("metrics", []))

    def search_runs(self, experiment_ids: list[str], filter_string: str = "",
                    max_results: int = 1000) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        token = None
        while True:
            body: dict[str, Any] = {"experiment_ids": experiment_ids, "filter": filter_string,
                                    "max_results": max_results}
            if token:
                body["page_token"] = token
            found = self.call("POST", "runs/search", body)
            runs.extend(found.get("runs", []))
            token = found.get("next_page_token")
            if not token:
                return runs

    def search_experiments(self) -> list[dict[str, Any]]:
        found = self.call("POST", "experiments/search", {"max_results": 1000})
        return list(found.get("experiments", []))

    # -- artifacts (through the server's artifact proxy) -------------------------

    def upload_artifact(self, artifact_uri: str, path: str, data: bytes,
                        content_type: str = "application/octet-stream") -> None:
        """Store ``data`` as ``path`` under a run whose root is ``mlflow-artifacts:/...``."""
        url = self.uri + ARTIFACTS_API + _proxied(artifact_uri) + "/" + urllib.parse.quote(path)
        self._send(urllib.request.Request(url, data=data, method="PUT",
                                          headers={"Content-Type": content_type}))

    def download_artifact(self, artifact_uri: str, path: str) -> bytes:
        url = self.uri + ARTIFACTS_API + _proxied(artifact_uri) + "/" + urllib.parse.quote(path)
        return self._send(urllib.request.Request(url, method="GET"))

    def list_artifacts(self, artifact_uri: str, path: str = "") -> list[dict[str, Any]]:
        url = self.uri + ARTIFACTS_API.rstrip("/") + "?" + urllib.parse.urlencode(
            {"path": _proxied(artifact_uri) + ("/" + path if path else "")})
        raw = self._send(urllib.request.Request(url, method="GET"))
        return list(json.loads(raw).get("files", [])) if raw else []


def _proxied(artifact_uri: str) -> str:
    prefix = "mlflow-artifacts:"
    if not artifact_uri.startswith(prefix):
        raise ValueError(f"not a proxied artifact location: {artifact_uri}")
    return urllib.parse.urlsplit(artifact_uri).path.strip("/")


def now_ms() -> int:
    return int(time.time() * 1000)
