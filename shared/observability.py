"""The one Powertools logger every handler uses, so every log line is structured JSON."""

from __future__ import annotations

from aws_lambda_powertools import Logger

__all__ = ["logger"]

logger = Logger(service="sluice")
