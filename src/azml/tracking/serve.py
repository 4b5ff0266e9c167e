"""The local tracking server process: ``python -m azml.tracking.serve --fd N ...``.

Started by :mod:`azml.tracking.server` with a listening socket it already bound
on 127.0.0.1 (inherited as file descriptor ``N``), so clients that connect
before the server is ready wait in the socket's backlog instead of being
refused. It serves MLflow's own application (REST API, artifact proxy and UI)
with uvicorn in this one process, on the SQLite store it is given.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azml.tracking.serve")
    parser.add_argument("--fd", type=int, required=True, help="inherited listening socket")
    parser.add_argument("--backend", required=True, help="backend store URI (sqlite:///...)")
    parser.add_argument("--artifacts", required=True, help="folder for proxied artifacts")
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

    config = uvicorn.Config("mlflow.server.fastapi_app:app", log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
