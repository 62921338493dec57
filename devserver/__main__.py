"""``python -m devserver``: the whole pipeline in one process on this machine.

Starts moto's server (S3, DynamoDB, SQS, SNS, Step Functions executing the real ASL),
creates the resources from the deploy template, polls the ingest queue into the
starter, and serves the Chalice API.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys

import requests
from chalice.config import Config
from chalice.local import create_local_server
from moto.server import ThreadedMotoServer

from devserver.runtime import MOTO_CONFIG, REGION, apply_environment, make_poller, provision_local


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="API host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    parser.add_argument(
        "--moto-port", type=int, default=0, help="local AWS port (default: a free port)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start everything and serve until interrupted."""
    args = _parse(argv)
    # moto's server logs every request it serves, the poller's long polls included.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_port = args.moto_port or _free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            # moto's Step Functions calls Lambda on this port; ThreadedMotoServer does not set it.
            "MOTO_PORT": str(moto_port),
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    requests.post(
        f"{endpoint}/moto-api/config", data=json.dumps(MOTO_CONFIG), timeout=10
    ).raise_for_status()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    provisioned = provision_local()
    apply_environment(provisioned.environment)
    poller = make_poller(provisioned)
    poller.start()

    import app

    server = create_local_server(
        app.app, Config.create(chalice_stage="dev", app_name="sluice"), args.host, args.port
    )
    sys.stdout.write(
        "\nSluice is running.\n"
        f"  API:        http://{args.host}:{args.port}/  (try GET /health, POST /batches)\n"
        f"  OpenAPI:    http://{args.host}:{args.port}/openapi.json\n"
        f"  Local AWS:  {endpoint}  (moto; AWS_ENDPOINT_URL={endpoint} aws ...)\n"
        f"  Dashboard:  {endpoint}/moto-api/  (moto's own resource browser)\n"
        "Data lives in memory and is gone when this process stops. Ctrl-C to stop.\n\n"
    )
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        poller.stop()
        moto.stop()


if __name__ == "__main__":
    main()
