"""The browser's half of an upload, for tests: the file POSTed to its presigned ticket."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_S = 30


def send_to_ticket(ticket: dict[str, Any], data: bytes, filename: str = "flights.csv") -> None:
    """POST ``data`` as a form to the ticket's presigned URL, as the dashboard does (no API key).

    The file part carries the ticket's ``Content-Type``; S3 answers 204, since the form sets
    no ``success_action_status``.
    """
    fields = ticket["upload"]["fields"]
    sent = requests.post(
        ticket["upload"]["url"],
        data=fields,
        files={"file": (filename, data, fields.get("Content-Type"))},
        timeout=TIMEOUT_S,
    )
    assert sent.status_code == 204, f"S3 POST: {sent.status_code} {sent.text}"
