"""JSON-serialisable job types and their validation.

:class:`JobSpec` is what a user submits. Field meanings follow Kubeflow Trainer's ``TrainJob``:
``nodes`` is ``numNodes``, ``procs_per_node`` is ``numProcPerNode``, ``resources_per_node`` is
``resourcesPerNode``. :func:`parse_spec` turns untrusted JSON into a spec or raises
:class:`~training_zoo.errors.InvalidRequest` naming the first bad field.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidRequest

FRAMEWORKS = ("pytorch", "tensorflow", "custom")
PENDING, QUEUED, RUNNING = "pending", "queued", "running"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
STATUSES = (PENDING, QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MEMORY_RE = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
SNAPSHOT_RE = re.compile(r"^[0-9a-f]{64}$")
# registry/name[:tag][@sha256:digest], as the OCI distribution spec spells references.
IMAGE_RE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
MAX_ARGS, MAX_ARG_LEN, MAX_CODE = 256, 4096, 1024 * 1024
MAX_DATASETS = 16
DATASET_REF_RE = re.compile(r"^(?:[^/:\s]{1,255}/)?([a-z0-9][a-z0-9_-]{0,62})(?::(V[0-9]{3,6}))?$")
MODEL_REF_RE = re.compile(r"^(?:[^/:\s]{1,255}/)?([a-z0-9][a-z0-9_-]{0,62})(?::([0-9]{1,9}))?$")


@dataclass
class Resources:
    gpus: int = 0
    cpus: float = 1
    memory: str | None = None


@dataclass
class JobSpec:
    name: str
    framework: str = "pytorch"
    entry: str | None = None
    code: str | None = None
    command: list[str] | None = None
    args: list[str] = field(default_factory=list)
    snapshot: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    nodes: int = 1
    procs_per_node: int = 1
    resources_per_node: Resources = field(default_factory=Resources)
    max_retries: int = 0
    timeout: float = 0
    priority: int = 0
    # Container image for backends that run containers (Kubernetes); None means the trainer image
    # of the catalogue for this framework. The local backend runs the service's own environment.
    image: str | None = None
    # Dataset versions the job reads: "name:V003", "owner/name:V003", or "name" (the latest
    # version at submit). The job records the exact versions it was given (lineage).
    datasets: list[str] = field(default_factory=list)
    # Registered model versions the job reads: "name:3", "owner/name:3", or "name" (the latest
    # version at submit); materialised read-only like datasets and recorded as lineage.
    models: list[str] = field(default_factory=list)

    @property
    def world_size(self) -> int:
        return self.nodes * self.procs_per_node

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int(body: dict, name: str, default: int, low: int, high: int, prefix: str = "") -> int:
    value = body.get(name, default)
    name = prefix + name
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest.field(name, "must be an integer")
    if not low <= value <= high:
        raise InvalidRequest.field(name, f"must be between {low} and {high}, not {value}")
    return value


def _number(
    body: dict, name: str, default: float, low: float, high: float, prefix: str = ""
) -> float:
    value = body.get(name, default)
    name = prefix + name
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest.field(name, "must be a number")
    if not low <= value <= high:
        raise InvalidRequest.field(name, f"must be between {low} and {high}, not {value}")
    return value


def _str_list(body: dict, name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest.field(name, "must be a list of strings")
    if len(value) > MAX_ARGS or any(len(v) > MAX_ARG_LEN or "\x00" in v for v in value):
        raise InvalidRequest.field(name, f"at most {MAX_ARGS} items of {MAX_ARG_LEN} characters")
    return value


def relative_path(value: Any, name: str) -> str:
    """Normalise a user-given path inside the working directory, refusing escapes."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest.field(name, "must be a non-empty path")
    if "\x00" in value or "\\" in value or value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise InvalidRequest.field(name, "must be a path relative to the working directory")
    norm = posixpath.normpath(value)
    if norm == ".." or norm.startswith("../") or norm == ".":
        raise InvalidRequest.field(name, "must stay inside the working directory")
    return norm


def check_fields(body: Any, allowed: set[str], where: str = "") -> dict:
    if not isinstance(body, dict):
        raise InvalidRequest.field(where or "body", "must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise InvalidRequest.field(name, "unknown field")
    return body


SPEC_FIELDS = {f for f in JobSpec.__dataclass_fields__}


def parse_spec(body: Any, *, max_nodes: int = 64, max_procs: int = 64) -> JobSpec:
    """Validate an untrusted job spec.

    Raises
    ------
    InvalidRequest
        Naming the first field that is unknown, missing or out of range.
    """
    body = check_fields(body, SPEC_FIELDS)
    name = body.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest.field(
            "name",
            "required: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    framework = body.get("framework", "pytorch")
    if framework not in FRAMEWORKS:
        raise InvalidRequest.field("framework", f"must be one of {', '.join(FRAMEWORKS)}")

    entry, code, command = body.get("entry"), body.get("code"), body.get("command")
    given = [
        k for k, v in (("entry", entry), ("code", code), ("command", command)) if v is not None
    ]
    if len(given) != 1:
        raise InvalidRequest.field("entry", "give exactly one of entry (a script), code or command")
    if entry is not None:
        entry = relative_path(entry, "entry")
    if code is not None and (not isinstance(code, str) or len(code) > MAX_CODE):
        raise InvalidRequest.field("code", f"must be a string of at most {MAX_CODE} characters")
    if command is not None:
        if framework != "custom":
            raise InvalidRequest.field("command", "only for framework 'custom'")
        command = _str_list(body, "command")
        if not command:
            raise InvalidRequest.field("command", "must not be empty")

    snapshot = body.get("snapshot")
    if snapshot is not None and (not isinstance(snapshot, str) or not SNAPSHOT_RE.match(snapshot)):
        raise InvalidRequest.field("snapshot", "must be an id returned by POST /snapshots")
    if snapshot is None and entry is not None:
        raise InvalidRequest.field("snapshot", "required when entry names a script")

    env = body.get("env") or {}
    if not isinstance(env, dict):
        raise InvalidRequest.field("env", "must be an object of NAME: value strings")
    for key, value in env.items():
        if not ENV_RE.match(key) or key.startswith("TZ_"):
            raise InvalidRequest.field(f"env.{key}", "invalid name (TZ_* is reserved)")
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidRequest.field(f"env.{key}", "must be a string")

    res = check_fields(
        body.get("resources_per_node") or {}, {"gpus", "cpus", "memory"}, "resources_per_node"
    )
    gpus = _int(res, "gpus", 0, 0, 64, "resources_per_node.")
    cpus = _number(res, "cpus", 1, 0.1, 1024, "resources_per_node.")
    memory = res.get("memory")
    if memory is not None and (not isinstance(memory, str) or not MEMORY_RE.match(memory)):
        raise InvalidRequest.field("resources_per_node.memory", "must look like 512Mi or 4Gi")

    image = body.get("image")
    if image is not None and (
        not isinstance(image, str) or len(image) > 255 or not IMAGE_RE.match(image)
    ):
        raise InvalidRequest.field("image", "must be an image reference like registry/name:tag")

    return JobSpec(
        name=name,
        image=image,
        datasets=_refs(body.get("datasets"), "datasets", DATASET_REF_RE, "name:V001"),
        models=_refs(body.get("models"), "models", MODEL_REF_RE, "name:3"),
        framework=framework,
        entry=entry,
        code=code,
        command=command,
        args=_str_list(body, "args"),
        snapshot=snapshot,
        env=dict(env),
        nodes=_int(body, "nodes", 1, 1, max_nodes),
        procs_per_node=_int(body, "procs_per_node", 1, 1, max_procs),
        resources_per_node=Resources(gpus=gpus, cpus=cpus, memory=memory),
        max_retries=_int(body, "max_retries", 0, 0, 100),
        timeout=_number(body, "timeout", 0, 0, 30 * 24 * 3600),
        priority=_int(body, "priority", 0, -1000, 1000),
    )


def _refs(value: Any, name: str, pattern: re.Pattern[str], example: str) -> list[str]:
    """Dataset or model references: well formed, at most 16, one per name."""
    if value is None:
        return []
    owner_form = example.replace("name", "owner/name")
    if not isinstance(value, list) or len(value) > MAX_DATASETS:
        raise InvalidRequest.field(name, f"must be a list of at most {MAX_DATASETS} "
                                   f"references like '{example}'")  # fmt: skip
    names: set[str] = set()
    for i, ref in enumerate(value):
        m = pattern.match(ref) if isinstance(ref, str) else None
        if m is None:
            raise InvalidRequest.field(f"{name}[{i}]", f"must look like {example}, "
                                       f"{owner_form} or name (the latest version)")  # fmt: skip
        if m.group(1) in names:
            # Both would claim the same TZ_DATASET_<NAME> / TZ_MODEL_<NAME> variable.
            raise InvalidRequest.field(f"{name}[{i}]", f"{m.group(1)} is given twice")
        names.add(m.group(1))
    return list(value)


def spec_from_dict(data: dict) -> JobSpec:
    """Rebuild a spec stored by :meth:`JobSpec.to_dict` (trusted input)."""
    data = dict(data)
    data["resources_per_node"] = Resources(**data.get("resources_per_node") or {})
    return JobSpec(**data)
