"""Serve the dashboard (``frontend/``) on the API's origin, as the local runtime's front door.

On AWS the dashboard is an S3 website with a generated ``config.js``; locally the same
files are served under ``/dashboard/`` by the API's own server, with a ``config.js``
whose API base URL is the same origin. Everything else goes to Chalice.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import ClassVar

from chalice.local import ChaliceRequestHandler

__all__ = ["DASHBOARD_PATH", "FRONTEND_DIR", "DashboardRequestHandler"]

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
DASHBOARD_PATH = "/dashboard/"
_LOCAL_CONFIG = b'export const API_BASE_URL = "";\n'
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class DashboardRequestHandler(ChaliceRequestHandler):
    """Chalice's local request handler, plus the dashboard's static files."""

    frontend: ClassVar[Path] = FRONTEND_DIR

    def do_GET(self) -> None:
        """Serve ``/`` and ``/dashboard/...``; hand every other path to Chalice."""
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(302, b"", "text/plain", {"Location": DASHBOARD_PATH})
        elif path == DASHBOARD_PATH.rstrip("/"):
            self._send(301, b"", "text/plain", {"Location": DASHBOARD_PATH})
        elif path.startswith(DASHBOARD_PATH):
            self._serve_file(path[len(DASHBOARD_PATH) :] or "index.html")
        else:
            self._generic_handle()

    def _serve_file(self, relative: str) -> None:
        if relative == "config.js":
            self._send(200, _LOCAL_CONFIG, "text/javascript")
            return
        root = self.frontend.resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            self._send(404, b"not found\n", "text/plain")
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix in {".js", ".mjs"}:
            content_type = "text/javascript"
        self._send(200, target.read_bytes(), content_type)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-cache",
            **_SECURITY_HEADERS,
            **(headers or {}),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
