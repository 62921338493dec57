"""Serve the dashboard (``frontend/``) on the API's origin, as the local runtime's front door.

On AWS the dashboard is an S3 website with a generated ``config.js``; locally the same
files are served under ``/dashboard/`` by the API's own server, with a ``config.js``
whose API base URL is the same origin. Everything else goes to Chalice.

Large files go from the browser straight to S3 with a presigned POST. On AWS that is
an ``https:`` origin, which ``index.html``'s Content-Security-Policy allows; locally it
is moto's plain-HTTP endpoint (``AWS_ENDPOINT_URL``, another origin), so this server
adds that one origin to ``connect-src``: in the header it sends, and in the meta tag
of the ``index.html`` it serves. The file on disk, which deploys as it is, keeps the
strict policy.
"""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from chalice.local import ChaliceRequestHandler

__all__ = [
    "DASHBOARD_PATH",
    "FRONTEND_DIR",
    "DashboardRequestHandler",
    "local_index_html",
    "local_s3_origin",
    "security_headers",
]

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"
DASHBOARD_PATH = "/dashboard/"
_LOCAL_CONFIG = b'export const API_BASE_URL = "";\n'
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'{extra}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The meta tag's connect-src directive, up to the ';' that ends it.
_META_CONNECT_SRC = re.compile(
    rb"(<meta\s[^>]*Content-Security-Policy[^>]*connect-src 'self')([^;\"]*)"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")


def local_s3_origin(endpoint: str | None = None) -> str | None:
    """Return the origin (``scheme://host:port``) of the local AWS endpoint, if one is set.

    Read from ``AWS_ENDPOINT_URL`` at request time: the devserver sets it after importing
    this module. Anything that is not a plain http(s) origin is ignored, so nothing from
    the environment can add a directive to the policy.
    """
    value = endpoint if endpoint is not None else os.environ.get("AWS_ENDPOINT_URL")
    if not value:
        return None
    parts = urlsplit(value.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    hostname = host.rsplit(":", 1)[0] if port is not None else host
    if not _HOST.match(hostname):
        return None
    return f"{parts.scheme}://{host}"


def security_headers(s3_origin: str | None) -> dict[str, str]:
    """The headers every dashboard answer carries; ``connect-src`` names the local S3 too."""
    extra = f" {s3_origin}" if s3_origin else ""
    return {"Content-Security-Policy": _CSP.format(extra=extra), **_OTHER_HEADERS}


def local_index_html(html: bytes, s3_origin: str | None) -> bytes:
    """Return ``index.html`` with the local S3 origin added to its meta CSP's ``connect-src``."""
    if not s3_origin:
        return html
    origin = s3_origin.encode()

    def add(match: re.Match[bytes]) -> bytes:
        sources = match.group(2)
        if origin in sources.split():
            return match.group(0)
        return match.group(1) + sources + b" " + origin

    return _META_CONNECT_SRC.sub(add, html, count=1)


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
        body = target.read_bytes()
        if target == root / "index.html":
            body = local_index_html(body, local_s3_origin())
        self._send(200, body, content_type)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-cache",
            **security_headers(local_s3_origin()),
            **(headers or {}),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
