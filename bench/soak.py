"""Soak: many batches under every fault kind for a while; the accounting must still hold.

Starts ``python -m devserver`` with a fault plan (``SLUICE_FAULTS``, every kind on), posts
rounds of concurrent batches (JSON, CSV, uploads) with the checker of the test suite
(``tests/checker/history.py``), retries the batches that failed, and checks after each
round that every source line is in exactly one place. Reports batches, records, faults
injected (by kind, from the runtime's log), retries (the client's, the stages' failed
attempts, the batch retries) and time. Fails (exit 1) on any violation.

``python -m bench.soak [--rounds N] [--batches N] [--rows N] [--seed N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3

from bench.end_to_end import Runtime
from bench.report import machine, write_result
from tests.checker.history import (
    EVERY_FAULT,
    Client,
    check,
    run_workload,
    summary,
    wait_final,
)

_FAULT_LINE = re.compile(r'"fault":"([a-z0-9_]+=[a-z]+)"')


def soak(rounds: int, batches: int, rows: int, seed: int) -> dict[str, Any]:
    """Run the soak; return its figures (``violations`` lists what broke, if anything)."""
    os.environ.update(
        {
            "SLUICE_FAULTS": EVERY_FAULT,
            "SLUICE_FAULTS_SEED": str(seed),
            "SLUICE_CHUNK_SIZE": "50",
        }
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluice-soak-") as workdir:
        runtime = Runtime(Path(workdir))
        try:
            client = Client(runtime.api, runtime.token)
            session = boto3.session.Session(
                aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
            )
            s3 = session.client("s3", endpoint_url=runtime.aws)
            outputs = session.client("cloudformation", endpoint_url=runtime.aws)
            stack = outputs.describe_stacks(StackName="sluice")["Stacks"][0]["Outputs"]
            bucket = next(
                o["OutputValue"] for o in stack if o["OutputKey"] == "ProcessedBucketName"
            )
            sent, violations, batch_retries = [], [], 0
            for number in range(rounds):
                posted = run_workload(client, batches, rows, seed=seed * 1000 + number)
                stuck = wait_final(client, posted, deadline_s=600)
                violations += [f"round {number}: not final: {b}" for b in stuck]
                failed = [b for b in posted if b.final.get("status") == "FAILED"]
                for batch in failed:
                    client.call("POST", f"/batches/{batch.batch_id}/retry")
                    batch_retries += 1
                wait_final(client, failed, deadline_s=600)
                violations += [f"round {number}: {v}" for v in check(client, posted, s3, bucket)]
                sent += posted
            log = runtime.log.read_text(errors="replace")
        finally:
            runtime.stop()
    figures = summary(sent)
    attempts = sum(
        stage.get("failed_attempts", 0)
        for batch in sent
        for stage in batch.final.get("stages", {}).values()
    )
    return {
        "machine": machine(),
        "plan": EVERY_FAULT,
        "seed": seed,
        "rounds": rounds,
        **figures,
        "faults_injected": dict(Counter(_FAULT_LINE.findall(log)).most_common()),
        "retries": {
            "client_requests": client.retried,
            # Failures inside a handler the ledger noted (an injected Lambda fault happens
            # outside it; the SDK's own retries of throttling are not counted here).
            "stage_failed_attempts_in_ledger": attempts,
            "batch_retries": batch_retries,
        },
        "seconds": round(time.monotonic() - started, 1),
        "violations": violations,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the soak and write ``bench/results/soak.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    report = soak(args.rounds, args.batches, args.rows, args.seed)
    path = write_result("soak", report)
    sys.stdout.write(json.dumps(report, indent=2) + f"\nwritten to {path}\n")
    if report["violations"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
