"""``make package``: one deployable SAM template and its Lambda zip for the whole system.

Steps, none of which needs AWS credentials or contacts AWS (only the package index):

1. A packaging virtualenv under the Lambda runtime's Python (3.12): Chalice takes the
   runtime, and the ABI of the wheels it bundles, from the interpreter that runs it.
2. A staged copy of the app (``app.py``, ``chalicelib/``, ``vendor/``, requirements and a
   stage config) so the checkout never holds build output.
3. The merge template: ``infra/resources.json`` with the ASL, a role and alarms per
   function (``infra/template.py``) and every function's environment as SAM ``Globals``.
4. ``chalice package --merge-template``.
5. Wiring Chalice's functions to the merged resources, which Chalice cannot express:
   each function's own role and name, the SQS event source reading the stack's queue
   with ``ReportBatchItemFailures``, API tracing, CORS for the dashboard's origin, and
   each state function's handler pointed at its stage module (``stages.<name>.handler``)
   so that its cold start imports only that stage, not the API in ``app.py``.
6. Bytecode for the Lambda runtime's Python, compiled into the zip (Lambda's code folder
   is read-only, so a module shipped without it is compiled at every cold start).

The output folder holds ``sam.json`` (the whole system), ``deployment.zip``,
``resources.json`` (the resources stack alone, for ``chalice deploy``) and
``report.json`` (runtime, sizes, time).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.functions import FUNCTIONS, FunctionSpec, by_logical_id, function_name
from infra.template import ALARM_METRICS, deploy_environment, load_template, role_output
from infra.vendor import LAMBDA_PYTHON_VERSION, NODEPS_REQUIREMENTS, build_vendor
from stages import STATE_FUNCTIONS

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BUILD",
    "DASHBOARD_ORIGIN_PLACEHOLDER",
    "LAMBDA_RUNTIME",
    "LAMBDA_RUNTIME_MODULES",
    "LAMBDA_TASK_ROOT",
    "Packaged",
    "PackagingError",
    "ensure_packaging_venv",
    "find_lambda_python",
    "function_prefix",
    "lambda_runtime_modules",
    "merge_template",
    "package",
    "stage_app",
    "stage_handler",
    "wire_functions",
]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
LAMBDA_RUNTIME = f"python{LAMBDA_PYTHON_VERSION}"
# What the Lambda Python runtime puts on sys.path besides the function's code, so never
# shipped (botocore alone is ~80 MB unzipped).
LAMBDA_RUNTIME_MODULES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)
# Where Lambda unpacks the zip: the compiled modules name their sources under it.
LAMBDA_TASK_ROOT = "/var/task"
PACKAGING_REQUIREMENTS = ROOT / "infra" / "requirements-package.txt"
DEFAULT_REGION = "us-east-1"
APP_NAME = json.loads((ROOT / ".chalice" / "config.json").read_text())["app_name"]
# chalicelib/api.py reads the dashboard's origin when Chalice imports it and writes it
# into the API's CORS preflight answers. The website bucket's URL exists only once the
# stack does, so the API is packaged with this stand-in and wired to the bucket after.
DASHBOARD_ORIGIN_PLACEHOLDER = "https://dashboard-origin.sluice.invalid"
_DASHBOARD_ORIGIN = "${DashboardBucket.WebsiteURL}"
# Chalice insists on a role ARN when it does not manage roles; wire_functions replaces it.
_ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/replaced-by-infra-package"
_SYSTEM_PYTHONS = (
    f"/usr/bin/python{LAMBDA_PYTHON_VERSION}",
    f"/usr/local/bin/python{LAMBDA_PYTHON_VERSION}",
)
# The state machine's log group (infra/resources.json), not a function's.
PIPELINE_LOG_GROUP_OWNER = "pipeline"
_APP_FILES = ("app.py", "chalicelib", "requirements.txt")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(RuntimeError):
    """The package cannot be built as asked; the message says what to change."""


@dataclass(frozen=True)
class Packaged:
    """What ``package`` built."""

    out: Path
    template: Path
    resources_template: Path
    zip_path: Path
    runtime: str
    zip_bytes: int
    unzipped_bytes: int
    seconds: float


def find_lambda_python() -> Path:
    """Return an interpreter of the Lambda runtime's Python version.

    ``LAMBDA_PYTHON`` wins; then ``python3.12`` on the PATH (a pyenv shim that refuses to
    run does not count), then pyenv's installs and the usual system paths.

    Raises:
        PackagingError: no such interpreter here.
    """
    version = LAMBDA_PYTHON_VERSION
    candidates = [os.environ.get("LAMBDA_PYTHON"), shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{version}.*/bin/python{version}"))
    candidates += list(_SYSTEM_PYTHONS)
    tried = [c for c in candidates if c]
    for candidate in tried:
        if _python_version(candidate) == version:
            return Path(candidate)
    raise PackagingError(
        f"no Python {version} found (tried {tried}); the Lambda runtime is {LAMBDA_RUNTIME} "
        "and Chalice targets the Python that runs it. Install it (e.g. `pyenv install "
        f"{version}` or Debian's python{version}) or set LAMBDA_PYTHON to its path."
    )


def _python_version(executable: str) -> str | None:
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (tests and ``make package`` share the venv)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_packaging_venv(venv: Path = BUILD / "lambda-venv") -> Path:
    """Create (once per set of pins) the packaging virtualenv; return its ``chalice``.

    Raises:
        PackagingError: no Python of the Lambda runtime's version, or pip failed.
    """
    pins = b"".join(
        path.read_bytes()
        for path in (PACKAGING_REQUIREMENTS, ROOT / "requirements.txt", NODEPS_REQUIREMENTS)
    )
    stamp = venv / f".installed-{hashlib.sha256(pins).hexdigest()[:16]}"
    chalice = venv / "bin" / "chalice"
    with _locked(venv.with_name(venv.name + ".lock")):
        if stamp.is_file() and chalice.is_file():
            return chalice
        shutil.rmtree(venv, ignore_errors=True)
        python = find_lambda_python()
        _check([str(python), "-m", "venv", str(venv)], "creating the packaging venv")
        _check(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(PACKAGING_REQUIREMENTS),
            ],
            "installing infra/requirements-package.txt",
        )
        stamp.touch()
    return chalice


def _check(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise PackagingError(
            f"{what} failed ({' '.join(command)} exited {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def stage_app(app_dir: Path, stage: str, stage_config: dict[str, Any] | None = None) -> Path:
    """Copy the deployable app into ``app_dir`` with ``vendor/`` and a config for ``stage``.

    ``stage_config`` is merged into the stage's settings; by default only a stand-in role
    ARN, which ``wire_functions`` replaces. Chalice's wheel cache
    (``.chalice/deployments``) survives between builds.
    """
    app_dir.mkdir(parents=True, exist_ok=True)
    for child in app_dir.iterdir():
        if child.name != ".chalice":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for name in _APP_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, app_dir / name, ignore=_IGNORE)
        else:
            shutil.copy2(source, app_dir / name)
    build_vendor(destination=app_dir / "vendor")
    config: dict[str, Any] = json.loads((ROOT / ".chalice" / "config.json").read_text())
    settings = config.setdefault("stages", {}).setdefault(stage, {"api_gateway_stage": "api"})
    settings.update(stage_config or {"iam_role_arn": _ROLE_PLACEHOLDER})
    (app_dir / ".chalice").mkdir(exist_ok=True)
    (app_dir / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return app_dir


def function_prefix(stage: str) -> str:
    """Return what Chalice starts the stage's function names with (``<app>-<stage>-``)."""
    return f"{APP_NAME}-{stage}-"


def resources_template(stage: str) -> dict[str, Any]:
    """Return the resources stack with ``stage``'s names (as Chalice gives them) as defaults."""
    template = load_template()
    parameters = template["Parameters"]
    parameters["FunctionNamePrefix"]["Default"] = function_prefix(stage)
    parameters["ApiFunctionName"]["Default"] = f"{APP_NAME}-{stage}"
    parameters["ApiName"]["Default"] = APP_NAME
    return template


def merge_template(stage: str) -> dict[str, Any]:
    """Return the template ``chalice package --merge-template`` folds into Chalice's own."""
    template = resources_template(stage)
    values = {name: output["Value"] for name, output in template["Outputs"].items()}
    template["Globals"] = {
        "Function": {"Environment": {"Variables": deploy_environment(values)}},
    }
    return template


def stage_handler(function: str) -> str:
    """The Lambda handler of a state function: its stage module's, not ``app.py``'s.

    The API, its authorizer and the queue consumer keep the handlers Chalice generates.
    """
    return f"stages.{function}.handler"


def wire_functions(sam: dict[str, Any]) -> None:
    """Connect Chalice's functions to the merged resources, in place.

    Raises:
        PackagingError: the app defines a function ``infra/functions.py`` has no policy
            for, or an SQS event source on a function that names no queue.
    """
    resources: dict[str, Any] = sam["Resources"]
    specs = by_logical_id()
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    unknown = sorted(set(functions) - set(specs))
    if unknown:
        raise PackagingError(
            f"the app defines functions without a policy: {unknown}; add a FunctionSpec "
            "with the actions they use to infra/functions.py"
        )
    for logical_id, properties in functions.items():
        _wire_function(specs[logical_id], properties)
    _name_log_groups(resources, [specs[logical_id] for logical_id in functions])
    _drop_unused_specs(sam, set(functions))
    if "RestAPI" in resources:
        resources["RestAPI"]["Properties"]["TracingEnabled"] = True
    sam["Resources"] = _replace_origin(resources)
    leftover = json.dumps(sam)
    for placeholder in (DASHBOARD_ORIGIN_PLACEHOLDER, _ROLE_PLACEHOLDER):
        if placeholder in leftover:
            raise PackagingError(f"{placeholder} is left in the template")


def _wire_function(spec: FunctionSpec, properties: dict[str, Any]) -> None:
    properties["FunctionName"] = function_name(spec)
    if spec.chalice_name in STATE_FUNCTIONS:
        properties["Handler"] = stage_handler(spec.chalice_name)
    properties["Role"] = {"Fn::GetAtt": [spec.role_id, "Arn"]}
    for event_id, event in properties.get("Events", {}).items():
        if event["Type"] != "SQS":
            continue
        if spec.event_queue is None:
            raise PackagingError(
                f"{spec.logical_id}.{event_id} reads a queue its spec does not name"
            )
        event["Properties"]["Queue"] = {"Fn::GetAtt": [spec.event_queue, "Arn"]}
        # The starter answers with Powertools' batchItemFailures; without this, Lambda
        # would treat a partly failed batch as done and drop its failed messages.
        event["Properties"]["FunctionResponseTypes"] = ["ReportBatchItemFailures"]


def _name_log_groups(resources: dict[str, Any], specs: list[FunctionSpec]) -> None:
    """Name Chalice's log groups after the functions' fixed names.

    Chalice names them ``/aws/lambda/${<function>}``, and for the API handler it refers to
    ``ApiHandler``, a logical id that does not exist once it renames it ``APIHandler``.

    Raises:
        PackagingError: a log group matches no function.
    """
    by_lower = {spec.logical_id.lower(): spec for spec in specs}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Logs::LogGroup" or not logical_id.endswith("LogGroup"):
            continue
        owner = logical_id.removesuffix("LogGroup").lower()
        if owner == PIPELINE_LOG_GROUP_OWNER:
            continue
        spec = by_lower.get(owner)
        if spec is None:
            raise PackagingError(f"log group {logical_id} belongs to no function")
        name = function_name(spec)["Fn::Sub"]
        resource["Properties"]["LogGroupName"] = {"Fn::Sub": f"/aws/lambda/{name}"}
        # Logs are kept for their retention period, not beyond the stack.
        resource["DeletionPolicy"] = resource["UpdateReplacePolicy"] = "Delete"


def _drop_unused_specs(sam: dict[str, Any], present: set[str]) -> None:
    """Drop the role, alarms and output of a listed function this app does not define."""
    for spec in FUNCTIONS:
        if spec.logical_id in present:
            continue
        for logical_id in (spec.role_id, *(f"{spec.logical_id}{m}Alarm" for m in ALARM_METRICS)):
            sam["Resources"].pop(logical_id, None)
        sam["Outputs"].pop(role_output(spec), None)


def _replace_origin(value: Any) -> Any:
    """Swap the stand-in origin for the dashboard bucket's website URL, wherever it is."""
    if isinstance(value, dict):
        return {key: _replace_origin(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_origin(item) for item in value]
    if isinstance(value, str) and DASHBOARD_ORIGIN_PLACEHOLDER in value:
        escaped = value.replace("${", "${!")
        return {"Fn::Sub": escaped.replace(DASHBOARD_ORIGIN_PLACEHOLDER, _DASHBOARD_ORIGIN)}
    return value


def chalice_environment(dashboard_origin: str) -> dict[str, str]:
    """Return the environment Chalice runs in: ours, minus anything that would leak in."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "SLUICE_", "VIRTUAL_ENV", "POWERTOOLS_"))
    }
    environment.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    environment["SLUICE_DASHBOARD_ORIGIN"] = dashboard_origin
    return environment


def package(
    stage: str = "dev", out: Path = BUILD / "package", app_dir: Path | None = None
) -> Packaged:
    """Build ``out/sam.json`` and ``out/deployment.zip`` for ``stage``; return what was built.

    Raises:
        PackagingError: see ``ensure_packaging_venv`` and ``wire_functions``.
    """
    started = time.monotonic()
    chalice = ensure_packaging_venv()
    app = stage_app(app_dir or BUILD / "app", stage)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    merge_path = out / "merge.json"
    merge_path.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    _check(
        [str(chalice), "--project-dir", str(app), "package", "--stage", stage]
        + ["--merge-template", str(merge_path), str(out)],
        "chalice package",
        cwd=app,
        env=chalice_environment(DASHBOARD_ORIGIN_PLACEHOLDER),
    )
    template_path = out / "sam.json"
    sam: dict[str, Any] = json.loads(template_path.read_text())
    wire_functions(sam)
    template_path.write_text(json.dumps(sam, indent=2) + "\n")
    resources_path = out / "resources.json"
    # Compact: a template body sent inline to CloudFormation may not exceed 51,200 bytes.
    resources_path.write_text(json.dumps(resources_template(stage), separators=(",", ":")))
    zip_path = out / "deployment.zip"
    compile_bytecode(zip_path, chalice.parent / "python")
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    packaged = Packaged(
        out=out,
        template=template_path,
        resources_template=resources_path,
        zip_path=zip_path,
        runtime=_runtime_of(sam),
        zip_bytes=zip_path.stat().st_size,
        unzipped_bytes=unzipped,
        seconds=round(time.monotonic() - started, 1),
    )
    report = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in asdict(packaged).items()
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return packaged


def compile_bytecode(zip_path: Path, python: Path) -> None:
    """Add bytecode for every module of the zip, compiled by ``python`` (the runtime's).

    ``unchecked-hash`` pycs are used without comparing them to their sources' times,
    which a zip does not keep exactly; tracebacks name the sources under
    ``LAMBDA_TASK_ROOT``.

    Raises:
        PackagingError: a module does not compile.
    """
    with tempfile.TemporaryDirectory(prefix="sluice-bytecode-") as scratch:
        tree = Path(scratch) / "task"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tree)
            entries = [(info, archive.read(info)) for info in archive.infolist()]
        _check(
            [str(python), "-m", "compileall", "-q", "-j", "0", "-s", str(tree)]
            + ["-p", LAMBDA_TASK_ROOT, "--invalidation-mode", "unchecked-hash", str(tree)],
            "compiling the zip's modules",
        )
        # Whatever bytecode came in the zip is replaced by the runtime's own.
        tag = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")
        compiled = sorted(tree.rglob(f"*.{tag}.pyc"))
        rebuilt = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for info, data in entries:
                if not info.filename.endswith(".pyc"):
                    archive.writestr(info, data)
            for path in compiled:
                info = zipfile.ZipInfo(path.relative_to(tree).as_posix(), _ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        rebuilt.replace(zip_path)


def lambda_runtime_modules(destination: Path, venv: Path = BUILD / "lambda-venv") -> Path:
    """A folder of links to what the Lambda runtime provides, from the packaging venv.

    With the unzipped artifact, it is all a function's Python sees on Lambda: for
    importing the artifact as Lambda would (the packaging tests, ``bench/cold_start.py``).

    Raises:
        PackagingError: the packaging venv lacks one of the modules.
    """
    site = venv / "lib" / LAMBDA_RUNTIME / "site-packages"
    destination.mkdir(parents=True, exist_ok=True)
    for name in LAMBDA_RUNTIME_MODULES:
        source = site / name if (site / name).is_dir() else site / f"{name}.py"
        if not source.exists():
            raise PackagingError(f"{source} is missing: run `make package` first")
        link = destination / source.name
        if not link.exists():
            link.symlink_to(source)
    return destination


def _runtime_of(sam: dict[str, Any]) -> str:
    runtimes = {
        resource["Properties"]["Runtime"]
        for resource in sam["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    if runtimes != {LAMBDA_RUNTIME}:
        raise PackagingError(f"functions target {sorted(runtimes)}, not {LAMBDA_RUNTIME}")
    return LAMBDA_RUNTIME


def main(argv: list[str] | None = None) -> None:
    """Package the app; print where the template and the zip are and how big the zip is."""
    parser = argparse.ArgumentParser(description="Build the deployable SAM template and zip.")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=BUILD / "package")
    arguments = parser.parse_args(argv)
    try:
        built = package(arguments.stage, arguments.out.resolve())
    except PackagingError as err:
        sys.stderr.write(f"make package: {err}\n")
        raise SystemExit(1) from err
    sys.stdout.write(
        f"{built.template} ({built.runtime}) and {built.zip_path}: "
        f"{built.zip_bytes / 1e6:.1f} MB zipped, {built.unzipped_bytes / 1e6:.1f} MB unzipped, "
        f"built in {built.seconds:.0f} s\n"
    )


if __name__ == "__main__":
    main()
