"""Deployment settings, read once from the environment and validated at cold start.

Every function gets the same ``SLUICE_*`` variables (the deploy template and the
local runtime both set them), so a misconfigured function fails at its first
invocation with a message naming the missing variable instead of failing later
inside an AWS call.
"""

from __future__ import annotations

import functools
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.faults import LOCAL_ONLY, parse_plan

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Names of the AWS resources and the pipeline's limits."""

    model_config = SettingsConfigDict(env_prefix="SLUICE_", frozen=True, extra="ignore")

    batches_table: str
    records_table: str
    api_keys_table: str
    raw_bucket: str
    processed_bucket: str
    ingest_queue_url: str
    # The dead-letter queues (``GET /dead-letters`` lists them; redrive and discard act on them).
    ingest_dlq_url: str
    pipeline_dlq_url: str
    state_machine_arn: str
    # Each chunk costs the same fixed work (a Map child's state transitions, four
    # invocations, their S3 objects and ledger moves) whatever it holds: 5,000 rows make
    # those a fifth of 1,000's (bench/results/end_to_end.json) and stay well inside a
    # stage's memory and time.
    chunk_size: Annotated[int, Field(ge=1, le=10_000)] = 5_000
    max_records: Annotated[int, Field(ge=1)] = 100_000
    # Below Lambda's 6 MB invocation cap (which counts the whole API Gateway event), so an
    # oversized body gets our JSON 413 rather than the platform's bare one.
    max_body_bytes: Annotated[int, Field(ge=1)] = 5_000_000
    # A gzip body of POST /batches may not inflate beyond this (a zip bomb is refused, 413).
    max_inflated_bytes: Annotated[int, Field(ge=1)] = 64_000_000
    # S3 takes at most 5 GB in one POST (or PUT); larger files need a multipart upload.
    max_upload_bytes: Annotated[int, Field(ge=1, le=5 * 1024**3)] = 5 * 1024**3
    upload_expiry_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 900
    # How many chunks the Distributed Map works on at once (its MaxConcurrencyPath).
    map_concurrency: Annotated[int, Field(ge=1, le=10_000)] = 40
    # The local runtime (moto) has no RedriveExecution and no StartMessageMoveTask: where
    # AWS has a native tool, the local runtime does the same work the portable way.
    local_runtime: bool = False
    # A fault plan (shared/faults.py): the local runtime only, refused here on AWS.
    faults: str | None = None
    faults_seed: int = 0

    @model_validator(mode="after")
    def _faults_only_locally(self) -> Settings:
        if self.faults and not self.local_runtime:
            raise ValueError(LOCAL_ONLY)
        if self.faults:
            parse_plan(self.faults, self.faults_seed)
        return self


@functools.cache
def get_settings() -> Settings:
    """Return the process's settings, validated on first use."""
    return Settings()
