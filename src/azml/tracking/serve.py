"""The local tracking server process: ``python -m azml.tracking.serve --fd N ...``.

Started by :mod:`azml.tracking.server` with a listening socket it already bound
on 127.0.0.1 (inherited as file descriptor ``N``), so clients that connect
before the server is ready wait in the socket's backlog instead of being
refused. It serves MLflow's own application (REST API, artifact proxy and UI)
with uvicorn in this one process, on the SQLite store it is given, and exits
after ``--idle`` seconds without a request (``AZML_TRACKING_IDLE``, 30 minutes by
default): kept warm between runs, gone when the project is left alone.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azml.tracking.serve")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--backend", required=True, help="backend store URI (sqlite:///...)")
    parser.add_argument("--artifacts", required=True, help="folder for proxied artifacts")
    parser.add_argument("--idle", type=float, default=1800.0,
                        help="exit after this many seconds without a request")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    # MLflow's server reads its configuration from these variables (set by `mlflow server`
    # for its workers); importing the names keeps them right for the installed version.
    from mlflow.server import constants

    os.environ[constants.BACKEND_STORE_URI_ENV_VAR] = args.backend
    os.environ[constants.SERVE_ARTIFACTS_ENV_VAR] = "true"
    os.environ[constants.ARTIFACTS_DESTINATION_ENV_VAR] = args.artifacts
    os.environ[constants.ARTIFACT_ROOT_ENV_VAR] = "mlflow-artifacts:/"
    os.environ.setdefault("_MLFLOW_SGI_NAME", "uvicorn")
    import uvicorn
    from mlflow.server.fastapi_app import app

    activity = Activity()
    config = uvicorn.Config(activity.wrap(app), log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    watchdog = threading.Thread(target=activity.stop_when_idle, args=(server, args.idle),
                                daemon=True)
    watchdog.start()
    server.run(sockets=[sock])
    return 0


class Activity:
    """When the server last answered: it exits after ``--idle`` seconds without a request,
    so a server ``azml run`` started does not outlive its use by more than that."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def wrap(self, app: Any) -> Any:
        async def application(scope: Any, receive: Any, send: Any) -> None:
            self.last = time.monotonic()
            await app(scope, receive, send)
            self.last = time.monotonic()

        return application

    def stop_when_idle(self, server: Any, idle: float) -> None:
        while not server.should_exit:
            time.sleep(min(5.0, idle / 4))
            if time.monotonic() - self.last > idle:
                server.should_exit = True


if __name__ == "__main__":
    sys.exit(main())
