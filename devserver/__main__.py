"""``python -m devserver``: the whole pipeline on this machine.

Starts moto's server (S3, DynamoDB, SQS, SNS, Step Functions executing the real ASL),
creates the resources from the deploy template, runs the Lambda handlers in warm worker
processes, polls the ingest queue into the starter, and serves the Chalice API. Every
request to the local AWS is counted and priced (``devserver/usage.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import requests
from chalice.config import Config
from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer

from chalicelib.api_keys import ApiKeyRepository, Scope, new_token
from devserver.lambda_dispatch import in_process, install
from devserver.persistence import SAVE_EVERY_S, SNAPSHOT, Clients, Saver, recover, restore
from devserver.ports import free_port
from devserver.pricing import cost
from devserver.runtime import (
    MOTO_CONFIG,
    REGION,
    apply_environment,
    lambda_handlers,
    make_poller,
    provision_local,
)
from devserver.static import DASHBOARD_PATH, DashboardRequestHandler
from devserver.usage import USAGE_PATH, MeteredMotoServer, count_transitions, metered
from devserver.workers import WorkerPool
from shared import aws
from shared.context import get_context
from shared.faults import FaultPlanError, parse_plan
from shared.settings import get_settings
from stages import STATE_FUNCTIONS

if TYPE_CHECKING:
    from shared.models import ExecutionInput

STATE_DIR = Path(".sluice-local")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="API host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    parser.add_argument(
        "--moto-port", type=int, default=0, help="local AWS port (default: a free port)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="worker processes that run the Lambda handlers, like Lambda's execution "
        "environments (default: one per CPU; 0 runs them on the server's own threads)",
    )
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="keep everything in memory only: restore nothing, save nothing (the benchmarks)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start empty: discard the state saved under --state-dir (make reset does too)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=STATE_DIR,
        help=f"where to write the admin key and the AWS environment (default {STATE_DIR})",
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Start everything and serve until interrupted."""
    args = _parse(argv)
    fault_plan = _fault_plan()
    # moto's server logs every request it serves, the poller's long polls included.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto_port = args.moto_port or free_port()
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
    moto = MeteredMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.answer_costs_with(cost)
    moto.start()
    count_transitions()
    requests.post(
        f"{endpoint}/moto-api/config", data=json.dumps(MOTO_CONFIG), timeout=10
    ).raise_for_status()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    provisioned = provision_local()
    apply_environment(provisioned.environment)
    pool = None
    if args.workers > 0:
        # After the environment is set: the workers read it when they start.
        pool = WorkerPool(args.workers, lambda_handlers())
        pool.warm()
    install(metered(pool or in_process(lambda_handlers())))
    state_dir: Path = args.state_dir
    clients = Clients(boto3.client("s3"), boto3.client("dynamodb"), boto3.client("sqs"))
    if args.fresh:
        shutil.rmtree(state_dir / SNAPSHOT, ignore_errors=True)
    restored = None if args.ephemeral else restore(state_dir, provisioned.outputs, clients)
    settled = recover(get_context(), _enqueue) if restored is not None else None
    poller = make_poller(provisioned)
    poller.start()
    saver = None if args.ephemeral else Saver(state_dir, provisioned.outputs, clients)
    if saver is not None:
        saver.start()

    token = _admin_token(state_dir, provisioned.environment | {"AWS_ENDPOINT_URL": endpoint})

    import app

    # What chalice.local.create_local_server does, with our handler for the dashboard.
    CustomLocalChalice.__bases__ = (LocalChalice, app.app.__class__)
    app.app.__class__ = CustomLocalChalice
    server = LocalDevServer(
        app.app,
        Config.create(chalice_stage="dev", app_name="sluice"),
        args.host,
        args.port,
        handler_cls=DashboardRequestHandler,
    )
    base = f"http://{args.host}:{args.port}"
    sys.stdout.write(
        "\nSluice is running.\n"
        f"  Dashboard:  {base}{DASHBOARD_PATH}\n"
        f"  API:        {base}/  (GET /health; everything else needs the key below)\n"
        f"  OpenAPI:    {base}/openapi.json\n"
        f"  Admin key:  {token}\n"
        f"              (also in {state_dir / 'api-token'}; use: Authorization: Bearer <key>)\n"
        f"  Local AWS:  {endpoint}  (moto; `set -a; . {state_dir / 'env'}` for the AWS CLI)\n"
        f"  AWS usage:  {endpoint}{USAGE_PATH}  (requests counted, priced at list prices)\n"
        + (
            "  State:      in memory only (--ephemeral)\n"
            if saver is None
            else f"  State:      {state_dir / SNAPSHOT}  (saved every {SAVE_EVERY_S:.0f} s and "
            "on stop; `make reset` to start empty)\n"
        )
        + "Ctrl-C to stop.\n\n"
    )
    if restored is not None and settled is not None:
        sys.stdout.write(
            f"  Restored:   {restored['items']} items, {restored['objects']} objects and "
            f"{restored['messages']} messages; {settled['interrupted']} interrupted batches "
            f"marked FAILED (retry them), {settled['queued']} queued again\n\n"
        )
    if fault_plan:
        sys.stdout.write(f"  Faults:     {fault_plan} (SLUICE_FAULTS; faults are injected)\n\n")
    sys.stdout.flush()
    # A stop sent by a supervisor (or `kill`) shuts down as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        poller.stop()
        if pool is not None:
            pool.shutdown()
        if saver is not None:
            saver.stop()
        moto.stop()


def _enqueue(message: ExecutionInput) -> None:
    aws.sqs().send_message(
        QueueUrl=get_settings().ingest_queue_url, MessageBody=message.model_dump_json()
    )


def _fault_plan() -> str | None:
    """The fault plan the runtime was started with, checked before anything starts."""
    text = os.environ.get("SLUICE_FAULTS", "").strip()
    if not text:
        return None
    try:
        parse_plan(text, int(os.environ.get("SLUICE_FAULTS_SEED", "0")), frozenset(STATE_FUNCTIONS))
    except (FaultPlanError, ValueError) as err:
        raise SystemExit(f"SLUICE_FAULTS: {err}") from None
    return text


def _admin_token(state_dir: Path, environment: dict[str, str]) -> str:
    """Register the admin key (``SLUICE_API_TOKEN`` or a new one) and write it for the user."""
    saved = state_dir / "api-token"
    token = (
        os.environ.get("SLUICE_API_TOKEN")
        or (saved.read_text().strip() if saved.is_file() else "")
        or new_token()
    )
    table = aws.dynamodb().Table(get_settings().api_keys_table)
    ApiKeyRepository(table).create("local admin", [Scope.ADMIN], token=token)
    state_dir.mkdir(parents=True, exist_ok=True)
    token_file = state_dir / "api-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    lines = [f"{name}={value}" for name, value in sorted(environment.items())]
    lines += [
        "AWS_ACCESS_KEY_ID=local",
        "AWS_SECRET_ACCESS_KEY=local",
        f"AWS_DEFAULT_REGION={REGION}",
    ]
    (state_dir / "env").write_text("\n".join(lines) + "\n")
    return token


if __name__ == "__main__":
    main()
