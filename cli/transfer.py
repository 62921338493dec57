"""Request bodies streamed from disk that report each block as it is sent.

The HTTP layer reads a body in blocks, so a file of any size is sent in constant memory
and every block moves the progress bar. A presigned S3 POST is a multipart form (its
policy fields, then the file); requests-toolbelt's encoder streams it, and this module
is the one typed wrapper around that untyped library.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, Protocol

from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["Body", "MultipartBody", "ProgressReader"]


class Body(Protocol):
    """A request body the HTTP layer reads in blocks; its length is known up front."""

    sent: int
    """How many of its bytes have been read (sent) so far."""

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` more bytes (all that is left for -1); b"" at the end."""
        ...

    def __len__(self) -> int: ...


class ProgressReader:
    """A binary stream of known length that reports how much of it has been read."""

    def __init__(self, stream: IO[bytes], length: int, on_progress: Callable[[int], None]) -> None:
        self._stream = stream
        self._length = length
        self._on_progress = on_progress
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        """Read the next block and report the bytes sent so far."""
        block = self._stream.read(size)
        if block:
            self.sent += len(block)
            self._on_progress(self.sent)
        return block

    def __len__(self) -> int:
        return self._length


class MultipartBody:
    """A presigned POST's form: every policy field, in order, then the file as ``file``."""

    def __init__(
        self,
        fields: Mapping[str, str],
        file: IO[bytes],
        filename: str,
        content_type: str,
        on_progress: Callable[[int], None],
    ) -> None:
        parts: list[tuple[str, Any]] = [*fields.items(), ("file", (filename, file, content_type))]
        encoder = MultipartEncoder(fields=parts)
        self.content_type: str = str(encoder.content_type)
        self._on_progress = on_progress
        self._monitor = MultipartEncoderMonitor(encoder, callback=self._report)
        self.sent = 0

    def _report(self, monitor: Any) -> None:
        self.sent = int(monitor.bytes_read)
        self._on_progress(self.sent)

    def read(self, size: int = -1) -> bytes:
        """Read the next block of the encoded form."""
        block: bytes = self._monitor.read(size)
        return block

    def __len__(self) -> int:
        return int(self._monitor.len)
