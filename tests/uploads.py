"""The browser's half of an upload, for tests: the file POSTed to its presigned ticket."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT_S = 30


def send_to_ticket(ticket: dict[str, Any], data: bytes, filename: str = "flights.csv") -> None:
    """POST ``data`` as a form to the ticket's presigned URL, the way a scripted user would."""
    sent = requests.post(
        ticket["upload"]["url"],
        data=ticket["upload"]["fields"],
        files={"file": (filename, data)},
        timeout=TIMEOUT_S,
    )
    assert sent.status_code in {200, 204}, sent.text
