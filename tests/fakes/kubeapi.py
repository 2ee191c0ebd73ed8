"""An in-process stand-in for the Kubernetes API endpoints TZ's Kubernetes job backend calls.

``FakeKubeAPI`` is a real HTTP server (tornado, plain HTTP on ``127.0.0.1``, no auth) running in
its own thread with its own asyncio loop, so any test (sync, or async in any loop) can point the
real ``kubernetes_asyncio`` client at it::

    with FakeKubeAPI() as api:
        cfg = kubernetes_asyncio.client.Configuration(host=api.url)
        async with kubernetes_asyncio.client.ApiClient(cfg) as c:
            custom = kubernetes_asyncio.client.CustomObjectsApi(c)
            await custom.create_namespaced_custom_object(
                "trainer.kubeflow.org", "v1alpha1", "team-a", "trainjobs", trainjob)

Responses follow the real API server's shapes: paths, status codes, ``Status`` error objects
(``AlreadyExists``, ``NotFound``, ``Forbidden``, ``Invalid``, ``Conflict``, ``Expired``, ...),
``<Kind>List`` lists with ``metadata.resourceVersion``, newline-delimited watch events,
resourceVersions from one global counter, ``/status`` subresources, owner-reference garbage
collection, pod logs as the kubelet serves them, and Kueue's VisibilityOnDemand API.

Served resources (``RESOURCES``; add more with ``add_resource``; hide one with
``remove_resource`` to play "CRD not installed": its paths answer 404 ``the server could not find
the requested resource``):
``trainer.kubeflow.org/v1alpha1`` trainjobs, trainingruntimes, clustertrainingruntimes;
``kubeflow.org/v1`` pytorchjobs; ``kueue.x-k8s.io/v1beta2`` workloads, localqueues, clusterqueues,
resourceflavors, workloadpriorityclasses; ``jobset.x-k8s.io/v1alpha2`` jobsets; ``batch/v1`` jobs;
core ``v1`` pods, secrets, configmaps, events, services, persistentvolumeclaims, namespaces, nodes.

HTTP surface
------------
``/api/v1/...`` and ``/apis/{group}/{version}/...`` collections and items, namespaced and
cluster-scoped; verbs GET (one, list, ``watch=true``), POST, PUT, PATCH (merge-patch,
json-patch; strategic-merge-patch on built-in kinds only, treated as a merge patch), DELETE (one
and collection); ``/status`` subresources; ``GET /api/v1/namespaces/{ns}/pods/{pod}/log``;
``GET /apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/{ns}/localqueues/{lq}/pendingworkloads``
and ``.../clusterqueues/{cq}/pendingworkloads``; discovery (``/api``, ``/apis``, ``/api/v1``,
``/apis/{g}/{v}``), ``/version``, ``/healthz``, ``/readyz``, ``/livez``.

Settings (attributes, changeable at any time): ``history_limit`` (watch events kept, 10000; older
resourceVersions get 410), ``bookmark_interval`` (60 s), ``too_large_rv_wait`` (3 s),
``kueue_webhook`` (True), ``allow_fractional_timeouts`` (False: ``timeoutSeconds=0.5`` is a 400,
as on a real server; True lets tests run sub-second watches).

Control methods (thread-safe; they act like controllers: they bump resourceVersions and notify
watchers) — ``create``, ``get``, ``list``, ``patch``, ``patch_status``, ``delete``,
``append_log``, ``add_event``, ``add_local_queue``; scenario helpers in real shapes —
``admit_workload``, ``start_pods``, ``pod_waiting``, ``finish_pod``, ``finish_trainjob``,
``run_pytorchjob``, ``finish_pytorchjob``. Faults and inspection — ``fail``, ``slow``,
``clear_faults``, ``down``/``up``/``outage``, ``compact``, ``bookmark``, ``requests``, ``calls``.
Each method's docstring says what it does; ``TRAINJOBS``, ``PODS``, ... are
``(group, version, plural)`` triples for ``api.get(*TRAINJOBS, ns, name)``.

Faults
------
``api.fail("POST", r"/trainjobs$", 403, "Forbidden", 'trainjobs.trainer.kubeflow.org "x" is
forbidden: exceeded quota: ...')`` answers the next matching request with that ``Status``.
``times=None`` keeps failing until ``clear_faults()``; ``apply=True`` processes the request first
(the object IS stored) and then answers the error, as when a create succeeded server-side but the
client saw a 5xx or timeout: the client's retry then meets 409 ``AlreadyExists``. ``query={"watch":
True}`` restricts a fault to requests with those query values (a bool matches any of Go's
spellings: ``true``, ``True``, ``1``); ``apply`` is ignored on watch and followed-log requests.
``api.slow(...)`` delays matching requests (to trigger client timeouts). ``down()`` stops listening
and cuts every open connection (watch and log streams end mid-stream); ``up()`` listens again on
the SAME port; objects and watch history survive, and control methods keep working while down.
``compact()`` drops the watch history, so any watch resuming from an older resourceVersion gets the
410 ERROR event.

Differences from a real API server that a backend author must know
-------------------------------------------------------------------
- No controllers run by themselves: nothing happens to a TrainJob until the test calls the
  scenario helpers. The one automatic mutation is Kueue's webhook: a TrainJob, PyTorchJob,
  JobSet or Job created over HTTP with label ``kueue.x-k8s.io/queue-name`` gets
  ``suspend: true`` (``kueue_webhook = False`` turns it off).
- Deletion and garbage collection are synchronous: the DELETE returns after dependents are gone
  (Foreground still answers the owner with ``deletionTimestamp`` + ``foregroundDeletion``;
  watchers see the owner MODIFIED, the dependents DELETED, then the owner DELETED, in the real
  order). Pods are removed at once with no grace period: a real pod is first MODIFIED with
  ``deletionTimestamp`` and its containers terminating, and only then DELETED; here watchers see
  only DELETED (the DELETE returns the pod, as the real one does). Objects with other finalizers
  stay, with ``deletionTimestamp``, until a patch removes the finalizers.
- Pod names from ``start_pods`` are ``<trainjob>-node-0-<i>``; real Job pods carry a random
  suffix (``<trainjob>-node-0-<i>-xxxxx``). Find pods by label, never by name.
- No schema validation or pruning of CRs (only names, label keys/values, and required
  ``metadata.name``); no ``managedFields``; no namespace-existence check; no RBAC; no server-side
  apply (``application/apply-patch+yaml`` answers 415); strategic merge patch merges lists as
  a JSON merge patch does (replaces them).
- List ``limit``/``continue`` pages over the current state (no consistent snapshot, no 410 for
  expired continue tokens). A list's ``resourceVersion`` query parameter is ignored (always the
  latest state). A watch from a resourceVersion newer than the current one waits
  ``too_large_rv_wait`` seconds (3 s, as the watch cache does) and then answers 504 ``Timeout``.
- Watches without ``timeoutSeconds`` never end on their own (the real server ends them after
  30-60 min). Bookmarks (``allowWatchBookmarks=true``) come every ``bookmark_interval`` seconds
  (60 s, about what the real server does) and on ``api.bookmark()``.
- Logs: ``append_log`` text, one timestamp per line; ``previous=true`` is not supported (400).
  A pod without ``spec.nodeName`` answers 204 with no body (the real API does the same).

How kubernetes_asyncio surfaces what the fake answers
-----------------------------------------------------
- With ``_preload_content=True`` (default) a non-2xx answer raises ``ApiException`` (``.status``,
  ``.reason``, ``.body`` = the Status JSON). With ``_preload_content=False`` NOTHING is raised:
  you get the aiohttp response and must check ``.status`` yourself.
- ``Watch().stream(...)``: an ERROR event (410 Expired) raises ``ApiException(status=410,
  reason="Expired: too old resource version: X (Y)")`` with no ``.body``. Without
  ``timeout_seconds`` the Watch first reconnects once from the same resourceVersion, gets 410
  again, then raises. An HTTP error on the watch request itself (a fault, 403, 404) also raises
  ``ApiException`` with that code. With ``timeout_seconds``, the stream ending cleanly ends the
  ``async for``; without it, the Watch silently reconnects.
- ``patch_namespaced_custom_object(body=dict)`` sends ``Content-Type: application/json-patch+json``
  (kubernetes_asyncio picks the first type) and the real server answers 400 ``json: cannot
  unmarshal object into Go value of type jsonpatch.Patch``; so does this fake. Pass
  ``_content_type="application/merge-patch+json"`` (or a JSON-patch list).
- ``read_namespaced_pod_log(...)`` with ``_preload_content=True`` json-decodes the text when it
  happens to be valid JSON (a log ``42\\n`` comes back as ``"42"``, ``{"a": 1}\\n`` as
  ``"{'a': 1}"``); read raw bytes with ``_preload_content=False`` (and check ``.status``).
- A cut connection (``down()`` during a stream) raises ``aiohttp.ClientPayloadError`` (or
  ``ServerDisconnectedError``) from the read; a refused connection raises
  ``aiohttp.ClientConnectorError``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

__all__ = [
    "CLUSTERQUEUES",
    "EVENTS",
    "JOBS",
    "JOBSETS",
    "LOCALQUEUES",
    "NETWORKPOLICIES",
    "PODS",
    "PYTORCHJOBS",
    "RESOURCES",
    "SECRETS",
    "TRAINJOBS",
    "WORKLOADS",
    "FakeKubeAPI",
    "KubeAPIError",
    "Resource",
]

# ---------------------------------------------------------------------------------------------
# Resources


@dataclass(frozen=True)
class Resource:
    """One served resource type. ``group`` is ``""`` for the core API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status: bool = True  # has a /status subresource
    default_propagation: str = "Background"
    field_selectors: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``trainjobs.trainer.kubeflow.org`` or ``pods``: how error messages name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def builtin(self) -> bool:
        return self.group in ("", "batch", "apps")

    @property
    def singular(self) -> str:
        return self.kind.lower()


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"),
    Resource(
        "trainer.kubeflow.org", "v1alpha1", "trainingruntimes", "TrainingRuntime", status=False
    ),
    Resource(
        "trainer.kubeflow.org",
        "v1alpha1",
        "clustertrainingruntimes",
        "ClusterTrainingRuntime",
        namespaced=False,
        status=False,
    ),
    Resource("kubeflow.org", "v1", "pytorchjobs", "PyTorchJob"),
    Resource("kueue.x-k8s.io", "v1beta2", "workloads", "Workload"),
    Resource("kueue.x-k8s.io", "v1beta2", "localqueues", "LocalQueue"),
    Resource("kueue.x-k8s.io", "v1beta2", "clusterqueues", "ClusterQueue", namespaced=False),
    Resource(
        "kueue.x-k8s.io",
        "v1beta2",
        "resourceflavors",
        "ResourceFlavor",
        namespaced=False,
        status=False,
    ),
    Resource(
        "kueue.x-k8s.io",
        "v1beta2",
        "workloadpriorityclasses",
        "WorkloadPriorityClass",
        namespaced=False,
        status=False,
    ),
    Resource("jobset.x-k8s.io", "v1alpha2", "jobsets", "JobSet"),
    Resource("batch", "v1", "jobs", "Job", default_propagation="Orphan"),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", status=False),
    Resource("", "v1", "pods", "Pod", field_selectors=_POD_FIELDS),
    Resource("", "v1", "secrets", "Secret", status=False, field_selectors=("type",)),
    Resource("", "v1", "configmaps", "ConfigMap", status=False),
    Resource("", "v1", "events", "Event", status=False, field_selectors=_EVENT_FIELDS),
    Resource("", "v1", "services", "Service"),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    Resource(
        "", "v1", "namespaces", "Namespace", namespaced=False, field_selectors=("status.phase",)
    ),
    Resource("", "v1", "nodes", "Node", namespaced=False, field_selectors=("spec.unschedulable",)),
)

TRAINJOBS = ("trainer.kubeflow.org", "v1alpha1", "trainjobs")
PYTORCHJOBS = ("kubeflow.org", "v1", "pytorchjobs")
WORKLOADS = ("kueue.x-k8s.io", "v1beta2", "workloads")
LOCALQUEUES = ("kueue.x-k8s.io", "v1beta2", "localqueues")
CLUSTERQUEUES = ("kueue.x-k8s.io", "v1beta2", "clusterqueues")
JOBSETS = ("jobset.x-k8s.io", "v1alpha2", "jobsets")
JOBS = ("batch", "v1", "jobs")
PODS = ("", "v1", "pods")
NETWORKPOLICIES = ("networking.k8s.io", "v1", "networkpolicies")
SECRETS = ("", "v1", "secrets")
EVENTS = ("", "v1", "events")

VISIBILITY_GROUP = "visibility.kueue.x-k8s.io"
VISIBILITY_VERSION = "v1beta2"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"

# ---------------------------------------------------------------------------------------------
# Errors


class KubeAPIError(Exception):
    """A Kubernetes ``Status`` failure; HTTP answers carry ``status()`` as the JSON body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self) -> dict:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            out["details"] = self.details
        out["code"] = self.code
        return out


def _details(res: Resource | None, name: str | None, kind: str | None = None, **extra) -> dict:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if res is not None and res.group:
        d["group"] = res.group
    if kind or res is not None:
        d["kind"] = kind or res.plural  # the API server puts the resource (plural) here
    d.update(extra)
    return d


def _not_found(res: Resource, name: str) -> KubeAPIError:
    return KubeAPIError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def _already_exists(res: Resource, name: str) -> KubeAPIError:
    return KubeAPIError(
        409, "AlreadyExists", f'{res.qualified} "{name}" already exists', _details(res, name)
    )


def _conflict(res: Resource, name: str, why: str | None = None) -> KubeAPIError:
    why = why or (
        "the object has been modified; please apply your changes to the latest "
        "version and try again"
    )
    return KubeAPIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res.qualified} "{name}": {why}',
        _details(res, name),
    )


def _bad_request(message: str) -> KubeAPIError:
    return KubeAPIError(400, "BadRequest", message)


def _resource_not_found() -> KubeAPIError:
    return KubeAPIError(404, "NotFound", "the server could not find the requested resource", {})


def _method_not_allowed() -> KubeAPIError:
    return KubeAPIError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def _invalid(res: Resource, name: str, errs: list[tuple[str, str, Any, str]]) -> KubeAPIError:
    """``errs``: (field, "Required"|"Invalid"|"Forbidden", value, detail)."""
    texts, causes = [], []
    for field, typ, value, detail in errs:
        if typ == "Required":
            msg, reason = f"Required value: {detail}", "FieldValueRequired"
        elif typ == "Forbidden":
            msg, reason = f"Forbidden: {detail}", "FieldValueForbidden"
        else:
            msg, reason = f"Invalid value: {json.dumps(value)}: {detail}", "FieldValueInvalid"
        texts.append(f"{field}: {msg}")
        causes.append({"reason": reason, "message": msg, "field": field})
    text = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = {
        "name": name,
        **({"group": res.group} if res.group else {}),
        "kind": res.kind,
        "causes": causes,
    }
    if not name:
        del details["name"]
    return KubeAPIError(
        422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {text}', details
    )


# ---------------------------------------------------------------------------------------------
# Small helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(t: datetime | None = None) -> str:
    return (t or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts_nano(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def _parse_ts(s: str) -> datetime:
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    m = re.match(r"^(.*\.\d{6})\d+(.*)$", s)  # Python parses at most microseconds
    if m:
        s = m.group(1) + m.group(2)
    t = datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


_TRUE = ("1", "t", "T", "true", "True", "TRUE")  # Go's strconv.ParseBool


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def _meta(obj: dict) -> dict:
    return obj.setdefault("metadata", {})


def _rv(obj: dict) -> int:
    return int(obj.get("metadata", {}).get("resourceVersion") or 0)


def _dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
    "or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _label_key_errors(key: str) -> list[str]:
    errs = []
    prefix, _, name = key.rpartition("/")
    if "/" in key:
        if not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix):
            errs.append("prefix part " + _SUBDOMAIN_MSG)
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.append(_QUALIFIED_MSG)
    return errs


def _validate_meta(res: Resource, obj: dict) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    errs: list[tuple[str, str, Any, str]] = []
    if res.plural != "events" or not name:  # event names contain dots and are generated
        if not name:
            errs.append(("metadata.name", "Required", None, "name or generateName is required"))
        elif len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
            errs.append(("metadata.name", "Invalid", name, _SUBDOMAIN_MSG))
    for key, value in (meta.get("labels") or {}).items():
        for detail in _label_key_errors(str(key)):
            errs.append(("metadata.labels", "Invalid", key, detail))
        if not isinstance(value, str):
            errs.append(("metadata.labels", "Invalid", value, "must be a string"))
        elif len(value) > 63:
            errs.append(("metadata.labels", "Invalid", value, "must be no more than 63 characters"))
        elif not _LABEL_VALUE.match(value):
            errs.append(("metadata.labels", "Invalid", value, _LABEL_VALUE_MSG))
    for key in meta.get("annotations") or {}:
        for detail in _label_key_errors(str(key)):
            errs.append(("metadata.annotations", "Invalid", key, detail))
    if errs:
        raise _invalid(res, name, errs)


# ---- selectors -------------------------------------------------------------------------------


def _split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _parse_label_selector(s: str | None) -> list[tuple[str, str, Any]]:
    """``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``."""
    reqs: list[tuple[str, str, Any]] = []
    for part in _split_top(s or ""):
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", part)
        if m:
            values = {v.strip() for v in m.group(3).split(",") if v.strip()}
            if not values:
                raise _bad_request(
                    f"unable to parse requirement: for '{m.group(2)}', "
                    "'notin' operators, values set can't be empty"
                )
            reqs.append((m.group(1), m.group(2), values))
            continue
        m = re.fullmatch(r"(!?)\s*([^=!<>\s]+)", part)
        if m:
            reqs.append((m.group(2), "!exists" if m.group(1) else "exists", None))
            continue
        m = re.fullmatch(r"([^=!<>\s]+)\s*(==|=|!=|<|>)\s*([^=!<>\s]*)", part)
        if not m:
            raise _bad_request(
                f"unable to parse requirement: found '{part}', expected: "
                "'=', '!=', '==', 'in', notin'"
            )
        key, op, value = m.groups()
        if op in ("<", ">"):
            try:
                int(value)
            except ValueError:
                raise _bad_request(
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, "
                    f"the value must be an integer: {value}"
                ) from None
        reqs.append((key, {"==": "=", "=": "="}.get(op, op), value))
    for key, _op, values in reqs:
        errs = _label_key_errors(key)
        if errs:
            raise _bad_request(
                f'unable to parse requirement: <nil>: Invalid value: "{key}": {errs[0]}'
            )
        for v in values if isinstance(values, set) else [values] if values else []:
            if len(v) > 63 or not _LABEL_VALUE.match(v):
                raise _bad_request(
                    f"unable to parse requirement: values[0][{key}]: Invalid "
                    f'value: "{v}": {_LABEL_VALUE_MSG}'
                )
    return reqs


def _labels_match(reqs: list[tuple[str, str, Any]], labels: dict | None) -> bool:
    labels = labels or {}
    for key, op, value in reqs:
        has, cur = key in labels, labels.get(key)
        if op == "=" and cur != value:
            return False
        if op == "!=" and has and cur == value:
            return False
        if op == "in" and cur not in value:
            return False
        if op == "notin" and has and cur in value:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
        if op in ("<", ">"):
            try:
                n = int(cur)
            except (TypeError, ValueError):
                return False
            if (op == "<" and not n < int(value)) or (op == ">" and not n > int(value)):
                return False
    return True


def _parse_field_selector(res: Resource, s: str | None) -> list[tuple[str, str, str]]:
    reqs = []
    allowed = ("metadata.name", "metadata.namespace", *res.field_selectors)
    for part in _split_top(s or ""):
        m = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise _bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in allowed:
            if res.builtin:
                raise _bad_request(f"field label not supported: {field}")
            raise _bad_request(
                f'"{field}" is not a known field selector: only '
                '"metadata.name", "metadata.namespace"'
            )
        reqs.append((field, "!=" if op == "!=" else "=", value))
    return reqs


def _fields_match(reqs: list[tuple[str, str, str]], obj: dict) -> bool:
    for field, op, value in reqs:
        cur = _dig(obj, field)
        if field == "source":
            cur = _dig(obj, "source.component")
        cur = "" if cur is None else str(cur).lower() if isinstance(cur, bool) else str(cur)
        if (op == "=") != (cur == value):
            return False
    return True


# ---- patches -------------------------------------------------------------------------------


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge_patch(result.get(k), v)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with /: {path}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _json_patch(doc: Any, ops: list) -> Any:
    doc = copy.deepcopy(doc)

    def parent(path: str, op: str) -> tuple[Any, str]:
        parts = _pointer(path)
        if not parts:
            raise ValueError(f'{op} operation does not apply: doc is missing path: "{path}"')
        cur = doc
        for p in parts[:-1]:
            try:
                cur = cur[int(p)] if isinstance(cur, list) else cur[p]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(
                    f'{op} operation does not apply: doc is missing path: "{path}": missing value'
                ) from None
        return cur, parts[-1]

    def get(path: str, op: str) -> Any:
        cur = doc
        for p in _pointer(path):
            try:
                cur = cur[int(p)] if isinstance(cur, list) else cur[p]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(
                    f'{op} operation does not apply: doc is missing path: "{path}": missing value'
                ) from None
        return cur

    def add(path: str, value: Any, op: str = "add") -> None:
        nonlocal doc
        if path == "":
            doc = value
            return
        cont, last = parent(path, op)
        if isinstance(cont, list):
            if last == "-":
                cont.append(value)
            else:
                i = int(last)
                if i > len(cont):
                    raise ValueError(f"{op} operation does not apply: index out of range: {path}")
                cont.insert(i, value)
        elif isinstance(cont, dict):
            cont[last] = value
        else:
            raise ValueError(f'{op} operation does not apply: doc is missing path: "{path}"')

    def remove(path: str, op: str = "remove") -> Any:
        cont, last = parent(path, op)
        try:
            return cont.pop(int(last)) if isinstance(cont, list) else cont.pop(last)
        except (KeyError, IndexError, ValueError, AttributeError):
            raise ValueError(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            ) from None

    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise ValueError("Unexpected kind: <nil>")
        kind, path = op["op"], op.get("path", "")
        if kind == "add":
            add(path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            remove(path)
        elif kind == "replace":
            get(path, "replace")
            remove(path, "replace")
            add(path, copy.deepcopy(op.get("value")), "replace")
        elif kind == "move":
            add(path, remove(op.get("from", ""), "move"), "move")
        elif kind == "copy":
            add(path, copy.deepcopy(get(op.get("from", ""), "copy")), "copy")
        elif kind == "test":
            if get(path, "test") != op.get("value"):
                raise ValueError(f"testing value {path} failed: test failed")
        else:
            raise ValueError(f"Unexpected kind: {kind}")
    return doc


def _set_condition(conditions: list[dict], cond: dict, *, v1: bool = False) -> list[dict]:
    """meta.SetStatusCondition: keep lastTransitionTime while the status does not change."""
    out = [dict(c) for c in conditions]
    for c in out:
        if c.get("type") == cond["type"]:
            if c.get("status") != cond["status"]:
                c["lastTransitionTime"] = cond.get("lastTransitionTime") or _ts()
            for k in ("status", "reason", "message", "observedGeneration"):
                if k in cond:
                    c[k] = cond[k]
            if v1:
                c["lastUpdateTime"] = cond.get("lastUpdateTime") or _ts()
            return out
    new = dict(cond)
    new.setdefault("lastTransitionTime", _ts())
    if v1:
        new.setdefault("lastUpdateTime", new["lastTransitionTime"])
    out.append(new)
    return out


# ---------------------------------------------------------------------------------------------
# Live streams (watches, followed logs)


class _Stream:
    """An open watch or followed log; woken from any thread via its loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.cut = False  # the server went down: end abruptly
        self.closed = False  # the client went away

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.event.set)


class _Watcher(_Stream):
    def __init__(self, loop, res: Resource, namespace: str | None, labels, fields, bookmarks):
        super().__init__(loop)
        self.res, self.namespace = res, namespace
        self.labels, self.fields, self.bookmarks = labels, fields, bookmarks
        self.queue: deque[tuple[str, dict]] = deque()

    def matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return _labels_match(self.labels, meta.get("labels")) and _fields_match(self.fields, obj)

    def translate(self, etype: str, prev: dict | None, obj: dict) -> tuple[str, dict] | None:
        """What this watcher sees of an event, given its selectors (as the watch cache does)."""
        if etype == "ADDED":
            return ("ADDED", obj) if self.matches(obj) else None
        if etype == "DELETED":
            return ("DELETED", obj) if self.matches(obj) else None
        was, now = self.matches(prev), self.matches(obj)
        if was and now:
            return ("MODIFIED", obj)
        if now:
            return ("ADDED", obj)
        if was:
            return ("DELETED", obj)
        return None

    def offer(self, etype: str, prev: dict | None, obj: dict) -> None:
        event = self.translate(etype, prev, obj)
        if event:
            self.queue.append(event)
            self.wake()


class _LogFollower(_Stream):
    def __init__(self, loop, namespace: str, pod: str) -> None:
        super().__init__(loop)
        self.key = (namespace, pod)


@dataclass
class _Fault:
    method: str
    path: re.Pattern
    error: KubeAPIError | None
    times: int | None
    apply: bool = False
    query: dict | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str, query: dict) -> bool:
        if self.method not in ("*", method):
            return False
        if not self.path.search(path):
            return False
        for k, v in (self.query or {}).items():
            if isinstance(v, bool):
                if (query.get(k) in _TRUE) != v:
                    return False
            elif query.get(k) != str(v):
                return False
        return True


# ---------------------------------------------------------------------------------------------
# The fake


class FakeKubeAPI:
    """A thread-hosted fake Kubernetes API server; see the module docstring."""

    def __init__(
        self,
        *,
        resources: tuple[Resource, ...] = RESOURCES,
        history_limit: int = 10_000,
        bookmark_interval: float = 60.0,
        kueue_webhook: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._resources: dict[tuple[str, str, str], Resource] = {}
        for res in resources:
            self._resources[(res.group, res.version, res.plural)] = res
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._uids: dict[str, tuple[Resource, str, str]] = {}
        self._rv = 0
        self._history: deque[tuple[int, Resource, str, dict | None, dict]] = deque()
        self._floor = 0  # watches from an older resourceVersion get 410
        self.history_limit = history_limit
        self.bookmark_interval = bookmark_interval
        self.too_large_rv_wait = 3.0
        self.kueue_webhook = kueue_webhook
        # The real server wants an integer timeoutSeconds (400 otherwise); fractions make tests
        # of the fake itself faster.
        self.allow_fractional_timeouts = False
        self._watchers: set[_Watcher] = set()
        self._followers: set[_LogFollower] = set()
        self._logs: dict[tuple[str, str, str], list[tuple[datetime, str]]] = {}
        self._faults: list[_Fault] = []
        self._calls: list[dict] = []
        self._iostreams: weakref.WeakSet = weakref.WeakSet()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._app: tornado.web.Application | None = None
        self._down = False
        self.port = 0

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``host`` of a kubernetes_asyncio Configuration."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeKubeAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server thread and listen on a free port."""
        if self._thread is not None:
            return
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._astart())
            except BaseException as e:  # noqa: BLE001
                failure.append(e)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="FakeKubeAPI", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    async def _astart(self) -> None:
        self._app = tornado.web.Application([(r"/.*", _Handler, {"api": self})])
        socks = tornado.netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        self.port = socks[0].getsockname()[1]
        self._server = tornado.httpserver.HTTPServer(self._app)
        self._server.add_sockets(socks)

    def stop(self) -> None:
        """Cut every connection, stop listening and end the server thread."""
        if self._thread is None or self._loop is None:
            return
        with contextlib.suppress(Exception):
            self._call_in_loop(self._adown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def _call_in_loop(self, coro_fn) -> Any:
        if threading.current_thread() is self._thread:
            raise RuntimeError("FakeKubeAPI control of the server cannot run on its own thread")
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(10)

    async def _adown(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._lock:
            streams = [*self._watchers, *self._followers]
            self._down = True
        for s in streams:
            s.cut = True
            s.event.set()
        for stream in list(self._iostreams):
            stream.close()
        for _ in range(100):  # let the stream handlers see the cut and end
            await asyncio.sleep(0.005)
            with self._lock:
                if not self._watchers and not self._followers:
                    break

    async def _aup(self) -> None:
        socks = tornado.netutil.bind_sockets(self.port, "127.0.0.1", family=socket.AF_INET)
        self._server = tornado.httpserver.HTTPServer(self._app)
        self._server.add_sockets(socks)
        with self._lock:
            self._down = False

    def down(self) -> None:
        """API outage: stop listening (connections are refused) and cut every open connection."""
        self._call_in_loop(self._adown)

    def up(self) -> None:
        """End an outage: listen again on the same port. Objects and watch history survive."""
        if self._down:
            self._call_in_loop(self._aup)

    @contextlib.contextmanager
    def outage(self) -> Iterator[FakeKubeAPI]:
        """``with api.outage(): ...``: ``down()`` for the block, ``up()`` after it."""
        self.down()
        try:
            yield self
        finally:
            self.up()

    # ---- faults and inspection -----------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        code: int,
        reason: str,
        message: str,
        times: int | None = 1,
        *,
        apply: bool = False,
        query: dict[str, Any] | None = None,
        details: dict | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests (``None``: all) matching ``method`` (``"*"``: any)
        and ``re.search(path_regex, path)`` (and ``query``) with that ``Status`` error.
        ``apply=True``: process the request first, then answer the error. ``retry_after`` adds
        a ``Retry-After`` header and ``details.retryAfterSeconds`` (429/503 style)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        if retry_after is not None:
            details = {**(details or {}), "retryAfterSeconds": retry_after}
        error = KubeAPIError(code, reason, message, details, headers)
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), re.compile(path_regex), error, times, apply, query)
            )

    def slow(
        self,
        method: str,
        path_regex: str,
        seconds: float,
        times: int | None = 1,
        *,
        query: dict[str, Any] | None = None,
    ) -> None:
        """Delay the next ``times`` matching requests by ``seconds`` before processing them."""
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(), re.compile(path_regex), None, times, query=query, delay=seconds
                )
            )

    def clear_faults(self) -> None:
        """Forget every pending ``fail``/``slow``."""
        with self._lock:
            self._faults.clear()

    def _take_faults(self, method: str, path: str, query: dict) -> tuple[_Fault | None, float]:
        error, delay = None, 0.0
        with self._lock:
            for f in list(self._faults):
                if (f.error is None and delay) or (f.error is not None and error):
                    continue
                if not f.matches(method, path, query):
                    continue
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                if f.error is None:
                    delay = f.delay
                else:
                    error = f
        return error, delay

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Every request received: ``(method, path, query)`` (last value of each parameter)."""
        with self._lock:
            return [(c["method"], c["path"], dict(c["query"])) for c in self._calls]

    @property
    def calls(self) -> list[dict]:
        """Every request received, with ``method, path, query, body`` (parsed JSON or None)
        and ``content_type``."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def clear_requests(self) -> None:
        with self._lock:
            self._calls.clear()

    def compact(self) -> None:
        """Drop the watch history: a watch from any resourceVersion older than now gets 410."""
        with self._lock:
            self._history.clear()
            self._floor = self._rv

    def bookmark(self) -> None:
        """Send a BOOKMARK now on every open watch that asked for bookmarks."""
        with self._lock:
            for w in self._watchers:
                if w.bookmarks:
                    w.queue.append(("BOOKMARK", self._bookmark_obj(w.res)))
                    w.wake()

    def _bookmark_obj(self, res: Resource, annotations: dict | None = None) -> dict:
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if annotations:
            meta["annotations"] = annotations
        return {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}

    @property
    def resource_version(self) -> str:
        """The current (latest) resourceVersion."""
        with self._lock:
            return str(self._rv)

    # ---- resource registry ---------------------------------------------------------------

    def add_resource(
        self,
        group: str,
        version: str,
        plural: str,
        kind: str,
        *,
        namespaced: bool = True,
        status: bool = True,
    ) -> None:
        """Serve one more resource type (a CRD being installed)."""
        with self._lock:
            res = Resource(group, version, plural, kind, namespaced, status)
            self._resources[(group, version, plural)] = res

    def remove_resource(self, group: str, version: str, plural: str) -> None:
        """Stop serving a resource type (its CRD is not installed): its paths answer 404."""
        with self._lock:
            self._resources.pop((group if group != "core" else "", version, plural), None)

    def _res(self, group: str, version: str, plural: str) -> Resource:
        group = "" if group == "core" else group
        try:
            return self._resources[(group, version, plural)]
        except KeyError:
            raise _resource_not_found() from None

    def _res_for(self, obj: dict) -> Resource:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        group, _, version = api_version.rpartition("/")
        for res in self._resources.values():
            if res.group == group and res.version == version and res.kind == kind:
                return res
        raise _bad_request(f"no resource is served for {api_version} {kind}")

    # ---- store primitives (call with the lock held) --------------------------------------

    def _table(self, res: Resource) -> dict[tuple[str, str], dict]:
        return self._objects.setdefault(res.key, {})

    def _find(self, res: Resource, namespace: str | None, name: str) -> dict | None:
        return self._table(res).get((namespace or "", name))

    def _must(self, res: Resource, namespace: str | None, name: str) -> dict:
        obj = self._find(res, namespace, name)
        if obj is None:
            raise _not_found(res, name)
        return obj

    def _items(self, res: Resource, namespace: str | None) -> list[dict]:
        rows = sorted(self._table(res).items())
        return [o for (ns, _), o in rows if namespace is None or ns == namespace]

    def _emit(self, res: Resource, etype: str, prev: dict | None, obj: dict) -> None:
        rv = _rv(obj)
        self._history.append((rv, res, etype, prev, obj))
        while len(self._history) > self.history_limit:
            self._floor = self._history.popleft()[0]
        for w in self._watchers:
            if w.res.key == res.key:
                w.offer(etype, prev, obj)
        if res.key == ("", "pods"):
            self._wake_logs(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _wake_logs(self, namespace: str, pod: str) -> None:
        for f in self._followers:
            if f.key == (namespace, pod):
                f.wake()

    def _insert(self, res: Resource, obj: dict) -> dict:
        """Store a new object: fill the server-set metadata, emit ADDED."""
        meta = _meta(obj)
        ns = meta.get("namespace", "") if res.namespaced else ""
        if not res.namespaced:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        _validate_meta(res, obj)
        if (ns, meta["name"]) in self._table(res):
            raise _already_exists(res, meta["name"])
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        obj = {"apiVersion": res.api_version, "kind": res.kind, **obj}
        meta = obj["metadata"]
        self._rv += 1
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = str(self._rv)
        meta["creationTimestamp"] = _ts()
        meta["generation"] = 1
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        self._table(res)[(ns, meta["name"])] = obj
        self._uids[meta["uid"]] = (res, ns, meta["name"])
        self._emit(res, "ADDED", None, obj)
        return obj

    def _replace(self, res: Resource, old: dict, new: dict) -> dict:
        """Store ``new`` in place of ``old`` (same name); no-op when nothing changed."""
        meta, old_meta = _meta(new), old["metadata"]
        for k in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        _validate_meta(res, new)
        if new == old:
            return old
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise _invalid(
                    res,
                    meta["name"],
                    [
                        (
                            "metadata.finalizers",
                            "Forbidden",
                            None,
                            "no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers {sorted(added)}",
                        )
                    ],
                )
        spec_old = {k: v for k, v in old.items() if k not in ("metadata", "status")}
        spec_new = {k: v for k, v in new.items() if k not in ("metadata", "status")}
        if spec_old != spec_new:
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        ns = old_meta.get("namespace", "") if res.namespaced else ""
        self._table(res)[(ns, meta["name"])] = new
        self._emit(res, "MODIFIED", old, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._remove(res, new)
        return new

    def _remove(self, res: Resource, obj: dict) -> dict:
        """Remove from the store, emit DELETED, garbage-collect what it owned."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if res.namespaced else ""
        if self._table(res).get((ns, meta["name"])) is None:
            return obj
        del self._table(res)[(ns, meta["name"])]
        self._uids.pop(meta.get("uid", ""), None)
        self._rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._emit(res, "DELETED", obj, gone)
        if res.key == ("", "pods"):
            for key in [k for k in self._logs if k[:2] == (ns, meta["name"])]:
                del self._logs[key]
        self._collect(meta.get("uid", ""), "Background")
        return gone

    def _dependents(self, uid: str) -> list[tuple[Resource, dict]]:
        out = []
        for key, table in self._objects.items():
            res = next((r for r in self._resources.values() if r.key == key), None)
            if res is None:
                continue
            for obj in list(table.values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    out.append((res, obj))
        return out

    def _collect(self, uid: str, policy: str) -> None:
        """The garbage collector, for the dependents of a deleted (or deleting) owner."""
        if not uid:
            return
        for res, obj in self._dependents(uid):
            obj = self._find(res, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if obj is None:
                continue
            refs = obj["metadata"].get("ownerReferences") or []
            others = [r for r in refs if r.get("uid") != uid]
            if policy == "Orphan" or any(r.get("uid") in self._uids for r in others):
                new = copy.deepcopy(obj)
                if others:
                    new["metadata"]["ownerReferences"] = others
                else:
                    new["metadata"].pop("ownerReferences", None)
                self._replace(res, obj, new)
            else:
                # the GC deletes in the foreground only what has dependents of its own
                uid_ = obj["metadata"].get("uid", "")
                cascade = policy == "Foreground" and bool(self._dependents(uid_))
                self._delete_obj(res, obj, "Foreground" if cascade else "Background")

    def _delete_obj(self, res: Resource, obj: dict, policy: str) -> tuple[dict, bool]:
        """Delete one object with a propagation policy. Returns (object, removed_now)."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj, False
        finalizers = list(meta.get("finalizers") or [])
        gc_finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
        if gc_finalizer and gc_finalizer not in finalizers:
            finalizers.append(gc_finalizer)
        if not finalizers:
            return self._remove(res, obj), True
        marked = copy.deepcopy(obj)
        marked["metadata"]["finalizers"] = finalizers
        self._rv += 1
        marked["metadata"].update(
            deletionTimestamp=_ts(), deletionGracePeriodSeconds=0, resourceVersion=str(self._rv)
        )
        ns = meta.get("namespace", "") if res.namespaced else ""
        self._table(res)[(ns, meta["name"])] = marked
        self._emit(res, "MODIFIED", obj, marked)
        if gc_finalizer:
            self._collect(meta.get("uid", ""), policy)
            cur = self._find(res, ns, meta["name"])
            if cur is not None:
                new = copy.deepcopy(cur)
                rest = [f for f in new["metadata"].get("finalizers") or [] if f != gc_finalizer]
                if rest:
                    new["metadata"]["finalizers"] = rest
                else:
                    new["metadata"].pop("finalizers", None)
                self._replace(res, cur, new)
        return marked, False

    # ---- control methods -----------------------------------------------------------------

    def create(self, obj: dict) -> dict:
        """Store an object as a controller would (status kept as given); its resource comes
        from ``apiVersion``/``kind``. Raises ``KubeAPIError`` (409 if it exists)."""
        with self._lock:
            res = self._res_for(obj)
            if res.namespaced and not (obj.get("metadata") or {}).get("namespace"):
                raise ValueError(f"{res.kind} needs metadata.namespace")
            return copy.deepcopy(self._insert(res, copy.deepcopy(obj)))

    def get(
        self, group: str, version: str, plural: str, namespace: str | None, name: str
    ) -> dict | None:
        """The stored object (a copy), or None."""
        with self._lock:
            obj = self._find(self._res(group, version, plural), namespace, name)
            return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[dict]:
        """Stored objects (copies), optionally of one namespace and matching a label selector."""
        with self._lock:
            res = self._res(group, version, plural)
            reqs = _parse_label_selector(label_selector)
            items = self._items(res, namespace if res.namespaced else None)
            return [
                copy.deepcopy(o) for o in items if _labels_match(reqs, o["metadata"].get("labels"))
            ]

    def patch(
        self, group: str, version: str, plural: str, namespace: str | None, name: str, patch: dict
    ) -> dict:
        """JSON merge patch of the whole object (spec, metadata AND status: a controller's
        shortcut). Raises ``KubeAPIError`` 404."""
        with self._lock:
            res = self._res(group, version, plural)
            cur = self._must(res, namespace, name)
            return copy.deepcopy(self._replace(res, cur, _merge_patch(copy.deepcopy(cur), patch)))

    def patch_status(
        self, group: str, version: str, plural: str, namespace: str | None, name: str, patch: dict
    ) -> dict:
        """JSON merge patch through the /status subresource: ``patch`` is the request body, e.g.
        ``{"status": {"phase": "Running"}}``; only ``status`` changes."""
        with self._lock:
            res = self._res(group, version, plural)
            cur = self._must(res, namespace, name)
            patched = _merge_patch(copy.deepcopy(cur), patch)
            new = copy.deepcopy(cur)
            if "status" in patched:
                new["status"] = patched["status"]
            else:
                new.pop("status", None)
            return copy.deepcopy(self._replace(res, cur, new))

    def delete(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
    ) -> dict | None:
        """Delete like the API server (garbage collection included). Returns the object (with
        ``deletionTimestamp`` if finalizers keep it), or None if it was not there."""
        with self._lock:
            res = self._res(group, version, plural)
            obj = self._find(res, namespace, name)
            if obj is None:
                return None
            out, _ = self._delete_obj(res, obj, propagation or res.default_propagation)
            return copy.deepcopy(out)

    def append_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """Append text to a container's log (one timestamp per line); followers get it now."""
        with self._lock:
            lines = self._logs.setdefault((namespace, pod, container), [])
            now = _now()
            for piece in text.splitlines(keepends=True):
                if lines and not lines[-1][1].endswith("\n"):
                    lines[-1] = (lines[-1][0], lines[-1][1] + piece)
                else:
                    lines.append((now, piece))
            self._wake_logs(namespace, pod)

    def add_event(
        self,
        involved: dict,
        reason: str,
        message: str,
        type: str = "Warning",
        component: str = "default-scheduler",
    ) -> dict:
        """Record a core/v1 Event about ``involved`` (a stored object), e.g. FailedScheduling."""
        meta = involved["metadata"]
        now = _ts()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": meta.get("namespace", "default"),
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        return self.create(event)

    def add_local_queue(
        self, namespace: str, name: str, cluster_queue: str = "cluster-queue"
    ) -> dict:
        """Create a Kueue LocalQueue (and its ClusterQueue if missing), as the visibility API
        needs them."""
        with self._lock:
            cq_res = self._res(*CLUSTERQUEUES)
            if self._find(cq_res, None, cluster_queue) is None:
                self._insert(
                    cq_res,
                    {
                        "apiVersion": cq_res.api_version,
                        "kind": "ClusterQueue",
                        "metadata": {"name": cluster_queue},
                        "spec": {
                            "namespaceSelector": {},
                            "queueingStrategy": "BestEffortFIFO",
                            "resourceGroups": [],
                        },
                    },
                )
            return self.create(
                {
                    "apiVersion": "kueue.x-k8s.io/v1beta2",
                    "kind": "LocalQueue",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"clusterQueue": cluster_queue},
                }
            )

    # ---- scenario helpers ----------------------------------------------------------------

    def _pod_by_name(self, pod: str, namespace: str | None) -> tuple[Resource, dict]:
        res = self._res(*PODS)
        if namespace is not None:
            return res, self._must(res, namespace, pod)
        found = [o for o in self._items(res, None) if o["metadata"]["name"] == pod]
        if len(found) != 1:
            raise (
                _not_found(res, pod)
                if not found
                else ValueError(f"pod {pod} exists in several namespaces; pass namespace=")
            )
        return res, found[0]

    def admit_workload(
        self,
        trainjob_name: str,
        namespace: str,
        *,
        admitted: bool,
        reason: str = "Pending",
        message: str = "couldn't assign flavors to pod set node: insufficient unused quota for "
        "nvidia.com/gpu in flavor default-flavor, 1 more needed",
        priority: int = 0,
        cluster_queue: str | None = None,
        evict_reason: str = "Preempted",
    ) -> dict:
        """Kueue's view of a TrainJob: create/update its Workload (``trainjob-<name>-<5 hex>``,
        label ``kueue.x-k8s.io/job-uid``, owned by the TrainJob, ``spec.queueName`` from the
        TrainJob's queue label) with QuotaReserved/Admitted conditions, and (un)suspend the
        TrainJob with its ``Suspended`` condition, as Kueue and the Trainer controller do.
        ``admitted=False`` after an admission also marks the Workload Evicted
        (``evict_reason``). Returns the Workload."""
        with self._lock:
            tj_res = self._res(*TRAINJOBS)
            tj = self._must(tj_res, namespace, trainjob_name)
            tmeta = tj["metadata"]
            queue = (tmeta.get("labels") or {}).get(QUEUE_LABEL)
            if not queue:
                raise ValueError(
                    f"TrainJob {trainjob_name} has no {QUEUE_LABEL} label: "
                    "Kueue would not manage it"
                )
            lq = self._find(self._res(*LOCALQUEUES), namespace, queue)
            cq = cluster_queue or _dig(lq, "spec.clusterQueue") or "cluster-queue"
            wl_res = self._res(*WORKLOADS)
            uid = tmeta["uid"]
            existing = [
                o
                for o in self._items(wl_res, namespace)
                if (o["metadata"].get("labels") or {}).get(JOB_UID_LABEL) == uid
            ]
            trainer = _dig(tj, "spec.trainer") or {}
            count = int(trainer.get("numNodes") or 1)
            requests = (
                _dig(trainer, "resourcesPerNode.requests")
                or _dig(trainer, "resourcesPerNode.limits")
                or {}
            )
            now = _ts()
            if existing:
                wl = copy.deepcopy(existing[0])
            else:
                digest = hashlib.sha1(f"{trainjob_name}/{uid}".encode()).hexdigest()[:5]
                wl = {
                    "apiVersion": wl_res.api_version,
                    "kind": "Workload",
                    "metadata": {
                        "name": f"trainjob-{trainjob_name}-{digest}",
                        "namespace": namespace,
                        "labels": {JOB_UID_LABEL: uid},
                        "ownerReferences": [
                            {
                                "apiVersion": tj_res.api_version,
                                "kind": "TrainJob",
                                "name": trainjob_name,
                                "uid": uid,
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "spec": {
                        "active": True,
                        "queueName": queue,
                        "priority": priority,
                        "podSets": [
                            {
                                "name": "node",
                                "count": count,
                                "template": {
                                    "spec": {
                                        "containers": [
                                            {
                                                "name": "node",
                                                "image": trainer.get("image", ""),
                                                "resources": {"requests": requests},
                                            }
                                        ],
                                        "restartPolicy": "OnFailure",
                                    }
                                },
                            }
                        ],
                    },
                    "status": {},
                }
                pc = (tmeta.get("labels") or {}).get(PRIORITY_LABEL)
                if pc:
                    wl["spec"]["priorityClassRef"] = {
                        "group": "kueue.x-k8s.io",
                        "kind": "WorkloadPriorityClass",
                        "name": pc,
                    }
            wl["spec"]["priority"] = priority
            status = wl.setdefault("status", {})
            conds = status.get("conditions") or []
            was_admitted = any(c["type"] == "Admitted" and c["status"] == "True" for c in conds)
            if admitted:
                conds = _set_condition(
                    conds,
                    {
                        "type": "QuotaReserved",
                        "status": "True",
                        "reason": "QuotaReserved",
                        "observedGeneration": 1,
                        "message": f"Quota reserved in ClusterQueue {cq}",
                        "lastTransitionTime": now,
                    },
                )
                conds = _set_condition(
                    conds,
                    {
                        "type": "Admitted",
                        "status": "True",
                        "reason": "Admitted",
                        "observedGeneration": 1,
                        "message": "The workload is admitted",
                        "lastTransitionTime": now,
                    },
                )
                for c in conds:
                    if c["type"] in ("Evicted", "Preempted") and c["status"] == "True":
                        c.update(status="False", lastTransitionTime=now)
                status["admission"] = {
                    "clusterQueue": cq,
                    "podSetAssignments": [
                        {
                            "name": "node",
                            "count": count,
                            "flavors": dict.fromkeys(requests, "default-flavor"),
                            "resourceUsage": {k: v for k, v in requests.items()},
                        }
                    ],
                }
            else:
                conds = _set_condition(
                    conds,
                    {
                        "type": "QuotaReserved",
                        "status": "False",
                        "reason": reason,
                        "message": message,
                        "observedGeneration": 1,
                        "lastTransitionTime": now,
                    },
                )
                if was_admitted:
                    conds = _set_condition(
                        conds,
                        {
                            "type": "Admitted",
                            "status": "False",
                            "reason": "NoReservation",
                            "message": "The workload has no reservation",
                            "observedGeneration": 1,
                            "lastTransitionTime": now,
                        },
                    )
                    conds = _set_condition(
                        conds,
                        {
                            "type": "Evicted",
                            "status": "True",
                            "reason": evict_reason,
                            "message": message,
                            "observedGeneration": 1,
                            "lastTransitionTime": now,
                        },
                    )
                status.pop("admission", None)
            status["conditions"] = conds
            if existing:
                wl = self._replace(wl_res, existing[0], wl)
            else:
                wl = self._insert(wl_res, wl)
            # The TrainJob: Kueue (un)suspends it, the Trainer controller reports it.
            new = copy.deepcopy(tj)
            new.setdefault("spec", {})["suspend"] = not admitted
            gen = int(tmeta.get("generation") or 1)
            if bool(_dig(tj, "spec.suspend")) != (not admitted):
                gen += 1
            cond = (
                {
                    "type": "Suspended",
                    "status": "False",
                    "reason": "Resumed",
                    "message": "TrainJob is resumed",
                }
                if admitted
                else {
                    "type": "Suspended",
                    "status": "True",
                    "reason": "Suspended",
                    "message": "TrainJob is suspended",
                }
            )
            cond.update(lastTransitionTime=now, observedGeneration=gen)
            st = new.setdefault("status", {})
            st["conditions"] = _set_condition(st.get("conditions") or [], cond)
            self._replace(tj_res, tj, new)
            return copy.deepcopy(wl)

    def start_pods(
        self,
        trainjob_name: str,
        namespace: str,
        nodes: int | None = None,
        *,
        running: bool = True,
        image: str | None = None,
    ) -> list[dict]:
        """Run a TrainJob's trainer nodes: a JobSet named like the TrainJob (owned by it), its
        Job ``<name>-node-0`` and pods ``<name>-node-0-<i>`` (owned by the Job) with JobSet's
        labels and container ``node``, Running (or Pending/ContainerCreating with
        ``running=False``); the TrainJob's ``status.jobsStatus`` follows. ``nodes`` defaults to
        ``spec.trainer.numNodes``. Returns the pods."""
        with self._lock:
            tj_res = self._res(*TRAINJOBS)
            tj = self._must(tj_res, namespace, trainjob_name)
            trainer = _dig(tj, "spec.trainer") or {}
            nodes = nodes or int(trainer.get("numNodes") or 1)
            image = image or trainer.get("image") or "pytorch/pytorch:latest"
            js_res, job_res = self._res(*JOBSETS), self._res(*JOBS)

            def owner(o: dict, controller: bool = True) -> dict:
                return {
                    "apiVersion": o["apiVersion"],
                    "kind": o["kind"],
                    "name": o["metadata"]["name"],
                    "uid": o["metadata"]["uid"],
                    "controller": controller,
                    "blockOwnerDeletion": True,
                }

            jobset = self._find(js_res, namespace, trainjob_name)
            if jobset is None:
                jobset = self._insert(
                    js_res,
                    {
                        "apiVersion": js_res.api_version,
                        "kind": "JobSet",
                        "metadata": {
                            "name": trainjob_name,
                            "namespace": namespace,
                            "labels": dict(tj["metadata"].get("labels") or {}),
                            "ownerReferences": [owner(tj)],
                        },
                        "spec": {"replicatedJobs": [{"name": "node", "replicas": 1}]},
                    },
                )
            job_name = f"{trainjob_name}-node-0"
            jset_labels = {
                "jobset.sigs.k8s.io/jobset-name": trainjob_name,
                "jobset.sigs.k8s.io/jobset-uid": jobset["metadata"]["uid"],
                "jobset.sigs.k8s.io/replicatedjob-name": "node",
                "jobset.sigs.k8s.io/replicatedjob-replicas": "1",
                "jobset.sigs.k8s.io/global-replicas": "1",
                "jobset.sigs.k8s.io/job-index": "0",
                "jobset.sigs.k8s.io/job-global-index": "0",
                "jobset.sigs.k8s.io/job-key": hashlib.sha1(
                    f"{namespace}/{job_name}".encode()
                ).hexdigest(),
                "jobset.sigs.k8s.io/restart-attempt": "0",
            }
            job = self._find(job_res, namespace, job_name)
            if job is None:
                job = self._insert(
                    job_res,
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "metadata": {
                            "name": job_name,
                            "namespace": namespace,
                            "labels": dict(jset_labels),
                            "annotations": dict(jset_labels),
                            "ownerReferences": [owner(jobset)],
                        },
                        "spec": {
                            "completionMode": "Indexed",
                            "completions": nodes,
                            "parallelism": nodes,
                            "backoffLimit": 0,
                        },
                        "status": {"active": nodes, "ready": nodes if running else 0},
                    },
                )
            pods = []
            queue = (tj["metadata"].get("labels") or {}).get(QUEUE_LABEL)
            for i in range(nodes):
                labels = {
                    **jset_labels,
                    "batch.kubernetes.io/job-completion-index": str(i),
                    "batch.kubernetes.io/job-name": job_name,
                    "job-name": job_name,
                    "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                    "controller-uid": job["metadata"]["uid"],
                }
                if queue:
                    labels["kueue.x-k8s.io/local-queue-name"] = queue
                now = _ts()
                if running:
                    state = {"running": {"startedAt": now}}
                    status = {
                        "phase": "Running",
                        "startTime": now,
                        "podIP": f"10.0.0.{10 + i}",
                        "hostIP": f"192.168.0.{10 + i}",
                        "qosClass": "Burstable",
                        "conditions": [
                            {"type": t, "status": "True", "lastTransitionTime": now}
                            for t in (
                                "PodReadyToStartContainers",
                                "Initialized",
                                "Ready",
                                "ContainersReady",
                                "PodScheduled",
                            )
                        ],
                    }
                else:
                    state = {"waiting": {"reason": "ContainerCreating"}}
                    status = {
                        "phase": "Pending",
                        "startTime": now,
                        "qosClass": "Burstable",
                        "hostIP": f"192.168.0.{10 + i}",
                        "conditions": [
                            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
                        ],
                    }
                status["containerStatuses"] = [
                    {
                        "name": "node",
                        "state": state,
                        "lastState": {},
                        "ready": running,
                        "restartCount": 0,
                        "image": image,
                        "started": running,
                        "imageID": f"docker.io/{image}@sha256:"
                        + hashlib.sha256(image.encode()).hexdigest(),
                        **(
                            {"containerID": "containerd://" + uuid.uuid4().hex * 2}
                            if running
                            else {}
                        ),
                    }
                ]
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{job_name}-{i}",
                        "namespace": namespace,
                        "labels": labels,
                        "annotations": {
                            **jset_labels,
                            "batch.kubernetes.io/job-completion-index": str(i),
                        },
                        "ownerReferences": [owner(job)],
                    },
                    "spec": {
                        "containers": [
                            {
                                "name": "node",
                                "image": image,
                                "resources": _dig(trainer, "resourcesPerNode") or {},
                            }
                        ],
                        "nodeName": f"gpu-node-{i}",
                        "restartPolicy": "OnFailure",
                        "schedulerName": "default-scheduler",
                        "subdomain": trainjob_name,
                        "hostname": f"{job_name}-{i}",
                    },
                    "status": status,
                }
                existing = self._find(self._res(*PODS), namespace, pod["metadata"]["name"])
                if existing is not None:
                    new = copy.deepcopy(existing)
                    new["status"] = status
                    pods.append(self._replace(self._res(*PODS), existing, new))
                else:
                    pods.append(self._insert(self._res(*PODS), pod))
            self._set_jobs_status(
                tj_res, namespace, trainjob_name, {"ready": 1 if running else 0, "active": 1}
            )
            return copy.deepcopy(pods)

    def _set_jobs_status(self, res: Resource, namespace: str, name: str, counts: dict) -> None:
        tj = self._must(res, namespace, name)
        new = copy.deepcopy(tj)
        entry = {
            "name": "node",
            "ready": 0,
            "succeeded": 0,
            "failed": 0,
            "active": 0,
            "suspended": 0,
            **counts,
        }
        new.setdefault("status", {})["jobsStatus"] = [entry]
        self._replace(res, tj, new)

    def pod_waiting(
        self,
        pod: str,
        reason: str = "ImagePullBackOff",
        message: str = 'Back-off pulling image "pytorch/pytorch:latest"',
        *,
        namespace: str | None = None,
    ) -> dict:
        """A pod Pending with its containers waiting (``state.waiting{reason, message}``)."""
        with self._lock:
            res, cur = self._pod_by_name(pod, namespace)
            new = copy.deepcopy(cur)
            st = new.setdefault("status", {})
            st["phase"] = "Pending"
            statuses = st.get("containerStatuses") or [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": "",
                    "lastState": {},
                    "restartCount": 0,
                }
                for c in _dig(new, "spec.containers") or []
            ]
            for cs in statuses:
                cs.update(
                    state={"waiting": {"reason": reason, "message": message}},
                    ready=False,
                    started=False,
                )
                cs.pop("containerID", None)
            st["containerStatuses"] = statuses
            st["conditions"] = [
                c
                for c in st.get("conditions") or []
                if c["type"] not in ("Ready", "ContainersReady")
            ] + [
                {
                    "type": t,
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "message": "containers with unready status: [node]",
                    "lastTransitionTime": _ts(),
                }
                for t in ("Ready", "ContainersReady")
            ]
            return copy.deepcopy(self._replace(res, cur, new))

    def finish_pod(
        self,
        pod: str,
        exit_code: int = 0,
        reason: str | None = None,
        *,
        message: str | None = None,
        namespace: str | None = None,
        container: str | None = None,
    ) -> dict:
        """Terminate a pod's container(s): ``state.terminated{exitCode, reason, startedAt,
        finishedAt}`` (reason ``Completed``/``Error`` by default; ``OOMKilled`` as you like),
        phase Succeeded (all exit 0) or Failed. Followed logs of it end."""
        with self._lock:
            res, cur = self._pod_by_name(pod, namespace)
            new = copy.deepcopy(cur)
            st = new.setdefault("status", {})
            now = _ts()
            statuses = st.get("containerStatuses") or [
                {
                    "name": c["name"],
                    "image": c.get("image", ""),
                    "imageID": "",
                    "lastState": {},
                    "restartCount": 0,
                }
                for c in _dig(new, "spec.containers") or []
            ]
            for cs in statuses:
                if container and cs["name"] != container:
                    continue
                started = _dig(cs, "state.running.startedAt") or st.get("startTime") or now
                term = {
                    "exitCode": exit_code,
                    "reason": reason or ("Completed" if exit_code == 0 else "Error"),
                    "startedAt": started,
                    "finishedAt": now,
                    "containerID": cs.get("containerID") or "containerd://" + uuid.uuid4().hex * 2,
                }
                if message:
                    term["message"] = message
                cs.update(
                    state={"terminated": term},
                    ready=False,
                    started=False,
                    containerID=term["containerID"],
                )
            st["containerStatuses"] = statuses
            codes = [_dig(cs, "state.terminated.exitCode") for cs in statuses]
            if all(c is not None for c in codes):
                st["phase"] = "Succeeded" if all(c == 0 for c in codes) else "Failed"
                st["conditions"] = [
                    {**c, "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
                    if c["type"] in ("Ready", "ContainersReady")
                    else c
                    for c in st.get("conditions") or []
                ]
            return copy.deepcopy(self._replace(res, cur, new))

    def finish_trainjob(
        self,
        name: str,
        namespace: str,
        succeeded: bool,
        reason: str | None = None,
        message: str | None = None,
    ) -> dict:
        """The TrainJob's terminal condition as the Trainer controller copies it from its
        JobSet: ``Complete`` True ``AllJobsCompleted`` or ``Failed`` True ``FailedJobs``;
        ``jobsStatus`` counts the finished Job; a Kueue Workload of it gets ``Finished``."""
        with self._lock:
            res = self._res(*TRAINJOBS)
            cur = self._must(res, namespace, name)
            if succeeded:
                cond = {
                    "type": "Complete",
                    "status": "True",
                    "reason": reason or "AllJobsCompleted",
                    "message": message or "jobset completed successfully",
                }
            else:
                cond = {
                    "type": "Failed",
                    "status": "True",
                    "reason": reason or "FailedJobs",
                    "message": message or "jobset failed due to one or more job failures",
                }
            cond.update(
                lastTransitionTime=_ts(),
                observedGeneration=int(cur["metadata"].get("generation") or 1),
            )
            new = copy.deepcopy(cur)
            st = new.setdefault("status", {})
            st["conditions"] = _set_condition(st.get("conditions") or [], cond)
            st["jobsStatus"] = [
                {
                    "name": "node",
                    "ready": 0,
                    "succeeded": 1 if succeeded else 0,
                    "failed": 0 if succeeded else 1,
                    "active": 0,
                    "suspended": 0,
                }
            ]
            out = self._replace(res, cur, new)
            wl_res = self._resources.get(WORKLOADS)
            uid = cur["metadata"]["uid"]
            for wl in self._items(wl_res, namespace) if wl_res else []:
                if (wl["metadata"].get("labels") or {}).get(JOB_UID_LABEL) == uid:
                    w = copy.deepcopy(wl)
                    ws = w.setdefault("status", {})
                    ws["conditions"] = _set_condition(
                        ws.get("conditions") or [],
                        {
                            "type": "Finished",
                            "status": "True",
                            "reason": "Succeeded" if succeeded else "Failed",
                            "message": cond["message"],
                            "observedGeneration": 1,
                        },
                    )
                    self._replace(wl_res, wl, w)
            return copy.deepcopy(out)

    def run_pytorchjob(self, name: str, namespace: str) -> dict:
        """Training Operator v1: ``Created`` and ``Running`` JobConditions on a PyTorchJob."""
        with self._lock:
            res = self._res(*PYTORCHJOBS)
            cur = self._must(res, namespace, name)
            new = copy.deepcopy(cur)
            st = new.setdefault("status", {})
            conds = st.get("conditions") or []
            if not any(c["type"] == "Created" for c in conds):
                conds = _set_condition(
                    conds,
                    {
                        "type": "Created",
                        "status": "True",
                        "reason": "PyTorchJobCreated",
                        "message": f"PyTorchJob {name} is created.",
                    },
                    v1=True,
                )
            conds = _set_condition(
                conds,
                {
                    "type": "Running",
                    "status": "True",
                    "reason": "PyTorchJobRunning",
                    "message": f"PyTorchJob {namespace}/{name} is running.",
                },
                v1=True,
            )
            st["conditions"] = conds
            st.setdefault("startTime", _ts())
            st["replicaStatuses"] = {"Master": {"active": 1}}
            return copy.deepcopy(self._replace(res, cur, new))

    def finish_pytorchjob(
        self,
        name: str,
        namespace: str,
        succeeded: bool,
        reason: str | None = None,
        message: str | None = None,
    ) -> dict:
        """Training Operator v1: ``Succeeded``/``Failed`` True (``Running`` turns False), with
        ``lastUpdateTime``/``lastTransitionTime``, ``completionTime``, ``replicaStatuses``."""
        with self._lock:
            res = self._res(*PYTORCHJOBS)
            cur = self._must(res, namespace, name)
            new = copy.deepcopy(cur)
            st = new.setdefault("status", {})
            conds = st.get("conditions") or []
            if not any(c["type"] == "Created" for c in conds):
                conds = _set_condition(
                    conds,
                    {
                        "type": "Created",
                        "status": "True",
                        "reason": "PyTorchJobCreated",
                        "message": f"PyTorchJob {name} is created.",
                    },
                    v1=True,
                )
            kind = "Succeeded" if succeeded else "Failed"
            text = message or (
                f"PyTorchJob {namespace}/{name} successfully completed."
                if succeeded
                else f"PyTorchJob {namespace}/{name} has failed because 1 Master replica(s) failed."
            )
            conds = [{**c, "status": "False"} if c["type"] == "Running" else c for c in conds]
            conds = _set_condition(
                conds,
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason or f"PyTorchJob{kind}",
                    "message": text,
                },
                v1=True,
            )
            st["conditions"] = conds
            st.setdefault("startTime", _ts())
            st["completionTime"] = _ts()
            st["replicaStatuses"] = {"Master": {"succeeded": 1} if succeeded else {"failed": 1}}
            return copy.deepcopy(self._replace(res, cur, new))

    # ---- Kueue visibility ----------------------------------------------------------------

    def _pending_workloads(self, cq: str) -> list[dict]:
        """Pending Workloads of a ClusterQueue in Kueue's order: priority desc, then age."""
        wl_res = self._resources.get(WORKLOADS)
        lq_res = self._resources.get(LOCALQUEUES)
        if wl_res is None or lq_res is None:
            return []
        out = []
        for wl in self._items(wl_res, None):
            ns = wl["metadata"].get("namespace")
            lq = self._find(lq_res, ns, _dig(wl, "spec.queueName") or "")
            if lq is None or _dig(lq, "spec.clusterQueue") != cq:
                continue
            if _dig(wl, "spec.active") is False:
                continue
            conds = _dig(wl, "status.conditions") or []
            if any(
                c.get("type") in ("QuotaReserved", "Finished") and c.get("status") == "True"
                for c in conds
            ):
                continue
            out.append(wl)
        out.sort(
            key=lambda w: (
                -int(_dig(w, "spec.priority") or 0),
                w["metadata"]["creationTimestamp"],
                _rv(w),
            )
        )
        return out

    def _visibility(self, segs: list[str], query: dict) -> dict:
        try:
            limit = int(query.get("limit", 1000))
            offset = int(query.get("offset", 0))
        except ValueError:
            raise _bad_request("limit and offset must be integers") from None
        vres = Resource(
            VISIBILITY_GROUP, VISIBILITY_VERSION, "localqueue", "PendingWorkloadsSummary"
        )
        if (
            len(segs) == 5
            and segs[0] == "namespaces"
            and segs[2] == "localqueues"
            and segs[4] == "pendingworkloads"
        ):
            ns, name = segs[1], segs[3]
            lq_res = self._resources.get(LOCALQUEUES)
            lq = self._find(lq_res, ns, name) if lq_res else None
            if lq is None:
                raise KubeAPIError(
                    404,
                    "NotFound",
                    f'localqueue.{VISIBILITY_GROUP} "{name}" not found',
                    _details(vres, name, "localqueue"),
                )
            everything = self._pending_workloads(_dig(lq, "spec.clusterQueue") or "")
            rows = [
                (i, w)
                for i, w in enumerate(everything)
                if w["metadata"].get("namespace") == ns and _dig(w, "spec.queueName") == name
            ]
            rows = rows[offset : offset + limit]
            items = [self._pending_item(w, offset + j, i) for j, (i, w) in enumerate(rows)]
        elif len(segs) == 3 and segs[0] == "clusterqueues" and segs[2] == "pendingworkloads":
            name = segs[1]
            cq_res = self._resources.get(CLUSTERQUEUES)
            lq_res = self._resources.get(LOCALQUEUES)
            known = cq_res is not None and self._find(cq_res, None, name) is not None
            if not known and lq_res is not None:
                known = any(_dig(q, "spec.clusterQueue") == name for q in self._items(lq_res, None))
            if not known:
                raise KubeAPIError(
                    404,
                    "NotFound",
                    f'clusterqueue.{VISIBILITY_GROUP} "{name}" not found',
                    _details(vres, name, "clusterqueue"),
                )
            everything = self._pending_workloads(name)[offset : offset + limit]
            items = []
            for j, w in enumerate(everything):
                i = offset + j
                same = [
                    x
                    for x in self._pending_workloads(name)
                    if x["metadata"].get("namespace") == w["metadata"].get("namespace")
                    and _dig(x, "spec.queueName") == _dig(w, "spec.queueName")
                ]
                items.append(self._pending_item(w, same.index(w), i))
        else:
            raise _resource_not_found()
        return {
            "kind": "PendingWorkloadsSummary",
            "apiVersion": f"{VISIBILITY_GROUP}/{VISIBILITY_VERSION}",
            "metadata": {},
            "items": items,
        }

    @staticmethod
    def _pending_item(wl: dict, pos_lq: int, pos_cq: int) -> dict:
        meta = wl["metadata"]
        owners = [
            {k: r[k] for k in ("apiVersion", "kind", "name", "uid") if k in r}
            for r in meta.get("ownerReferences") or []
        ]
        m: dict[str, Any] = {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "creationTimestamp": meta.get("creationTimestamp"),
        }
        if owners:
            m["ownerReferences"] = owners
        return {
            "metadata": m,
            "priority": int(_dig(wl, "spec.priority") or 0),
            "localQueueName": _dig(wl, "spec.queueName"),
            "positionInClusterQueue": pos_cq,
            "positionInLocalQueue": pos_lq,
        }

    # ---- discovery -----------------------------------------------------------------------

    def _discovery(self, segs: list[str]) -> dict | None:
        if segs == ["version"]:
            return {
                "major": "1",
                "minor": "33",
                "gitVersion": "v1.33.0-fake",
                "platform": "linux/amd64",
            }
        if segs == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if segs == ["apis"]:
            groups: dict[str, list[str]] = {}
            for res in self._resources.values():
                if res.group:
                    groups.setdefault(res.group, [])
                    if res.version not in groups[res.group]:
                        groups[res.group].append(res.version)
            groups.setdefault(VISIBILITY_GROUP, [VISIBILITY_VERSION])
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in sorted(groups.items())
                ],
            }
        if (len(segs) == 2 and segs[0] == "api") or (len(segs) == 3 and segs[0] == "apis"):
            group, version = ("", segs[1]) if segs[0] == "api" else (segs[1], segs[2])
            resources = []
            for res in self._resources.values():
                if res.group != group or res.version != version:
                    continue
                resources.append(
                    {
                        "name": res.plural,
                        "singularName": res.singular,
                        "namespaced": res.namespaced,
                        "kind": res.kind,
                        "verbs": [
                            "create",
                            "delete",
                            "deletecollection",
                            "get",
                            "list",
                            "patch",
                            "update",
                            "watch",
                        ],
                    }
                )
                if res.status:
                    resources.append(
                        {
                            "name": f"{res.plural}/status",
                            "singularName": "",
                            "namespaced": res.namespaced,
                            "kind": res.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                    )
            if group == "" and resources:
                resources.append(
                    {
                        "name": "pods/log",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get"],
                    }
                )
            if (group, version) == (VISIBILITY_GROUP, VISIBILITY_VERSION):
                resources = [
                    {
                        "name": n,
                        "singularName": "",
                        "namespaced": ns,
                        "kind": "PendingWorkloadsSummary",
                        "verbs": ["get"],
                    }
                    for n, ns in (
                        ("clusterqueues/pendingworkloads", False),
                        ("localqueues/pendingworkloads", True),
                    )
                ]
            if not resources:
                return None
            gv = f"{group}/{version}" if group else version
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": gv,
                "resources": resources,
            }
        return None


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclass
class _Target:
    res: Resource
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    sub: str | None  # "status" | "log"


class _Handler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

    def initialize(self, api: FakeKubeAPI) -> None:
        self.api = api
        self._live: _Stream | None = None

    def compute_etag(self) -> None:
        return None

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-cache, private")
        self.set_header("Audit-Id", str(uuid.uuid4()))

    def on_connection_close(self) -> None:
        if self._live is not None:
            self._live.closed = True
            self._live.event.set()

    async def get(self) -> None:
        await self._handle("GET")

    async def post(self) -> None:
        await self._handle("POST")

    async def put(self) -> None:
        await self._handle("PUT")

    async def patch(self) -> None:
        await self._handle("PATCH")

    async def delete(self) -> None:
        await self._handle("DELETE")

    # ---- plumbing ------------------------------------------------------------------------

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        self.set_status(code)
        if code == 204:
            self.finish()
            return
        self.set_header("Content-Type", content_type)
        self.finish(body if isinstance(body, bytes | str) else _dumps(body))

    def _send_error(self, e: KubeAPIError) -> None:
        for k, v in e.headers.items():
            self.set_header(k, v)
        self._send(e.code, e.status())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        self.set_header("Content-Type", "application/json")
        self.finish(
            _dumps(
                KubeAPIError(500, "InternalError", f"Internal error occurred: {exc!r}", {}).status()
            )
        )

    def _body(self) -> Any:
        raw = self.request.body
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise _bad_request(f"couldn't get version/kind; json parse error: {e}") from None

    async def _handle(self, method: str) -> None:
        api = self.api
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            api._iostreams.add(stream)
        path = self.request.path
        query = {k: v[-1].decode() for k, v in self.request.query_arguments.items()}
        ctype = (self.request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            body = json.loads(self.request.body) if self.request.body else None
        except ValueError:
            body = None
        with api._lock:
            api._calls.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": body,
                    "content_type": ctype,
                }
            )
        fault, delay = api._take_faults(method, path, query)
        if delay:
            await asyncio.sleep(delay)
        streaming = method == "GET" and (
            query.get("watch") in _TRUE or (path.endswith("/log") and query.get("follow") in _TRUE)
        )
        if fault is not None and (not fault.apply or streaming):
            self._send_error(self._fault_error(fault.error, path, body))
            return
        try:
            result = await self._dispatch(method, path, query, ctype)
        except KubeAPIError as e:
            result = ("error", e)
        if fault is not None:
            self._send_error(self._fault_error(fault.error, path, body))
        elif result is None:
            return  # streamed
        elif result[0] == "error":
            self._send_error(result[1])
        else:
            self._send(*result[1:])

    def _fault_error(self, error: KubeAPIError, path: str, body: Any) -> KubeAPIError:
        """An injected error, with ``details`` filled from the request as the server does."""
        if error.details is not None:
            return error
        details: dict = {}
        with contextlib.suppress(KubeAPIError, IndexError):
            t = self._target([unquote(s) for s in path.strip("/").split("/")])
            name = t.name or (isinstance(body, dict) and (body.get("metadata") or {}).get("name"))
            details = _details(t.res, name or None)
        return KubeAPIError(error.code, error.reason, error.message, details, error.headers)

    def _target(self, segs: list[str]) -> _Target:
        api = self.api
        if segs[0] == "api":
            group, version, rest = "", segs[1], segs[2:]
        else:
            group, version, rest = segs[1], segs[2], segs[3:]
        if not rest:
            raise _resource_not_found()
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise _resource_not_found()
        with api._lock:
            res = api._res(group, version, plural)
        if not res.namespaced and namespace is not None:
            raise _resource_not_found()
        if res.namespaced and namespace is None and name is not None:
            raise _resource_not_found()
        if sub is not None and not (
            (sub == "status" and res.status) or (sub == "log" and res.key == ("", "pods"))
        ):
            raise _resource_not_found()
        return _Target(res, namespace, name, sub)

    async def _dispatch(self, method: str, path: str, query: dict, ctype: str):
        api = self.api
        segs = [unquote(s) for s in path.strip("/").split("/")]
        if method == "GET" and len(segs) == 1 and segs[0] in ("healthz", "readyz", "livez"):
            return ("ok", 200, "ok", "text/plain; charset=utf-8")
        if (
            segs[0] not in ("api", "apis")
            or (segs[0] == "api" and len(segs) < 2)
            or (segs[0] == "apis" and len(segs) < 3)
        ):
            with api._lock:
                found = api._discovery(segs) if method == "GET" else None
            if found is None:
                raise _resource_not_found()
            return ("ok", 200, found)
        if segs[0] == "apis" and segs[1] == VISIBILITY_GROUP:
            if len(segs) == 3:
                with api._lock:
                    return ("ok", 200, api._discovery(segs))
            if segs[2] != VISIBILITY_VERSION:
                raise _resource_not_found()
            if method != "GET":
                raise _method_not_allowed()
            with api._lock:
                return ("ok", 200, api._visibility(segs[3:], query))
        if len(segs) == (2 if segs[0] == "api" else 3):
            with api._lock:
                found = api._discovery(segs) if method == "GET" else None
            if found is None:
                raise _resource_not_found()
            return ("ok", 200, found)
        t = self._target(segs)
        if t.sub == "log":
            if method != "GET":
                raise _method_not_allowed()
            return await self._pod_log(t, query)
        if method == "GET":
            if t.name is None:
                if query.get("watch") in _TRUE:
                    await self._watch(t, query)
                    return None
                return self._list(t, query)
            with api._lock:
                return ("ok", 200, api._must(t.res, t.namespace, t.name))
        if method == "POST":
            if t.name is not None:
                raise _method_not_allowed()
            return self._create(t)
        if method == "DELETE":
            if t.name is None:
                return self._delete_collection(t, query)
            return self._delete(t, query)
        if t.name is None:
            raise _method_not_allowed()
        if method == "PUT":
            return self._update(t)
        return self._patch(t, ctype)

    # ---- verbs ---------------------------------------------------------------------------

    def _list(self, t: _Target, query: dict):
        api = self.api
        labels = _parse_label_selector(query.get("labelSelector"))
        fields = _parse_field_selector(t.res, query.get("fieldSelector"))
        with api._lock:
            items = [
                o
                for o in api._items(t.res, t.namespace)
                if _labels_match(labels, o["metadata"].get("labels")) and _fields_match(fields, o)
            ]
            rv = str(api._rv)
        meta: dict[str, Any] = {"resourceVersion": rv}
        start = 0
        if query.get("continue"):
            try:
                start = json.loads(base64.urlsafe_b64decode(query["continue"]))["start"]
            except (ValueError, KeyError, TypeError):
                raise _bad_request("continue key is not valid") from None
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise _bad_request(
                f'strconv.ParseInt: parsing "{query["limit"]}": invalid syntax'
            ) from None
        if start:
            items = items[start:]
        if limit and len(items) > limit:
            token = json.dumps({"rv": rv, "start": start + limit}).encode()
            meta["continue"] = base64.urlsafe_b64encode(token).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if t.res.builtin:  # typed lists carry no kind/apiVersion on their items
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return (
            "ok",
            200,
            {
                "apiVersion": t.res.api_version,
                "kind": f"{t.res.kind}List",
                "metadata": meta,
                "items": items,
            },
        )

    def _check_body(self, t: _Target, body: Any) -> dict:
        if not isinstance(body, dict):
            raise _bad_request(
                "the body of the request was in an unknown format - accepted "
                "media types include: application/json, application/yaml"
            )
        res = t.res
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if not res.builtin and not kind:
            raise _bad_request(f"Object 'Kind' is missing in '{json.dumps(body)}'")
        if api_version and api_version != res.api_version:
            raise _bad_request(
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({res.api_version})"
            )
        if kind and kind != res.kind:
            raise _bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )
        meta = body.get("metadata") or {}
        if res.namespaced and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise _bad_request(
                "the namespace of the provided object does not match the "
                "namespace sent on the request"
            )
        return body

    def _create(self, t: _Target):
        api = self.api
        if t.namespace is None and t.res.namespaced:
            raise _method_not_allowed()
        obj = copy.deepcopy(self._check_body(t, self._body()))
        meta = _meta(obj)
        if meta.get("resourceVersion"):
            raise _bad_request("resourceVersion should not be set on objects to be created")
        if t.res.namespaced:
            meta["namespace"] = t.namespace
        if t.res.status:
            if t.res.key == ("", "pods"):
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            else:
                obj.pop("status", None)
        if t.res.key == ("", "secrets") and "stringData" in obj:
            data = obj.setdefault("data", {})
            for k, v in (obj.pop("stringData") or {}).items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        labels = meta.get("labels") or {}
        if api.kueue_webhook and labels.get(QUEUE_LABEL):
            if t.res.key in (TRAINJOBS[::2], JOBSETS[::2], JOBS[::2]):
                obj.setdefault("spec", {})["suspend"] = True
            elif t.res.key == PYTORCHJOBS[::2]:
                obj.setdefault("spec", {}).setdefault("runPolicy", {})["suspend"] = True
        with api._lock:
            return ("ok", 201, api._insert(t.res, obj))

    def _updated(self, t: _Target, cur: dict, new: dict) -> dict:
        """What an update of ``cur`` to ``new`` stores, with status-subresource rules."""
        if t.sub == "status":
            out = copy.deepcopy(cur)
            if "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        if t.res.status:
            if "status" in cur:
                new["status"] = copy.deepcopy(cur["status"])
            else:
                new.pop("status", None)
        return new

    def _update(self, t: _Target):
        api = self.api
        body = copy.deepcopy(self._check_body(t, self._body()))
        meta = _meta(body)
        if meta.get("name") and meta["name"] != t.name:
            raise _bad_request(
                f"the name of the object ({meta['name']}) does not match the name "
                f"on the URL ({t.name})"
            )
        with api._lock:
            cur = api._must(t.res, t.namespace, t.name)
            if not meta.get("resourceVersion"):
                raise _invalid(
                    t.res,
                    t.name,
                    [("metadata.resourceVersion", "Invalid", 0, "must be specified for an update")],
                )
            if meta["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                raise _conflict(t.res, t.name)
            return ("ok", 200, api._replace(t.res, cur, self._updated(t, cur, body)))

    def _patch(self, t: _Target, ctype: str):
        api = self.api
        body = self._body()
        if ctype == "application/strategic-merge-patch+json" and not t.res.builtin:
            raise KubeAPIError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an "
                "unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml",
            )
        if ctype not in (
            "application/merge-patch+json",
            "application/json-patch+json",
            "application/strategic-merge-patch+json",
        ):
            accepted = "application/json-patch+json, application/merge-patch+json"
            if t.res.builtin:
                accepted += ", application/strategic-merge-patch+json"
            raise KubeAPIError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an "
                f"unknown format - accepted media types include: {accepted}, "
                "application/apply-patch+yaml (the fake does not implement "
                "server-side apply)",
            )
        with api._lock:
            cur = api._must(t.res, t.namespace, t.name)
            if ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    kind = "object" if isinstance(body, dict) else "value"
                    raise _bad_request(
                        f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch"
                    )
                try:
                    patched = _json_patch(cur, body)
                except ValueError as e:
                    raise KubeAPIError(422, "Invalid", str(e)) from None
            else:
                if not isinstance(body, dict):
                    raise _bad_request(
                        "couldn't get version/kind; json parse error: json: "
                        "cannot unmarshal array into Go value of type struct"
                    )
                patched = _merge_patch(copy.deepcopy(cur), body)
            if not isinstance(patched, dict):
                raise _bad_request("the patch turned the object into a non-object")
            rv = (patched.get("metadata") or {}).get("resourceVersion")
            if rv != cur["metadata"]["resourceVersion"]:
                raise _conflict(t.res, t.name)
            return ("ok", 200, api._replace(t.res, cur, self._updated(t, cur, patched)))

    def _delete_options(self, query: dict) -> tuple[str | None, dict]:
        body = self._body() or {}
        if not isinstance(body, dict):
            raise _bad_request("the body of the request was in an unknown format")
        policy = query.get("propagationPolicy") or body.get("propagationPolicy")
        if policy is None and body.get("orphanDependents") is not None:
            policy = "Orphan" if body["orphanDependents"] else "Background"
        if query.get("orphanDependents") and policy is None:
            policy = "Orphan" if query["orphanDependents"] == "true" else "Background"
        if policy not in (None, "Foreground", "Background", "Orphan"):
            raise KubeAPIError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: '
                f'propagationPolicy: Unsupported value: "{policy}": supported '
                'values: "Foreground", "Background", "Orphan", "nil"',
                {"group": "meta.k8s.io", "kind": "DeleteOptions"},
            )
        return policy, body.get("preconditions") or {}

    def _delete(self, t: _Target, query: dict):
        api = self.api
        policy, pre = self._delete_options(query)
        with api._lock:
            cur = api._must(t.res, t.namespace, t.name)
            meta = cur["metadata"]
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise _conflict(
                    t.res,
                    t.name,
                    "Precondition failed: UID in precondition: "
                    f"{pre['uid']}, UID in object meta: {meta.get('uid')}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
                raise _conflict(
                    t.res,
                    t.name,
                    "Precondition failed: ResourceVersion in "
                    f"precondition: {pre['resourceVersion']}, ResourceVersion in "
                    f"object meta: {meta['resourceVersion']}",
                )
            out, removed = api._delete_obj(t.res, cur, policy or t.res.default_propagation)
        if removed and t.res.key != ("", "pods"):
            return (
                "ok",
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": _details(t.res, t.name, uid=meta.get("uid")),
                },
            )
        return ("ok", 200, out)

    def _delete_collection(self, t: _Target, query: dict):
        api = self.api
        policy, _ = self._delete_options(query)
        labels = _parse_label_selector(query.get("labelSelector"))
        fields = _parse_field_selector(t.res, query.get("fieldSelector"))
        with api._lock:
            out = []
            for o in api._items(t.res, t.namespace):
                if _labels_match(labels, o["metadata"].get("labels")) and _fields_match(fields, o):
                    obj, _ = api._delete_obj(t.res, o, policy or t.res.default_propagation)
                    out.append(obj)
            rv = str(api._rv)
        return (
            "ok",
            200,
            {
                "apiVersion": t.res.api_version,
                "kind": f"{t.res.kind}List",
                "metadata": {"resourceVersion": rv},
                "items": out,
            },
        )

    # ---- watch ---------------------------------------------------------------------------

    async def _write_line(self, obj: dict) -> bool:
        if self._live is not None and (self._live.cut or self._live.closed):
            return False
        try:
            self.write(_dumps(obj))
            await self.flush()
        except tornado.iostream.StreamClosedError:
            return False
        return True

    async def _watch(self, t: _Target, query: dict) -> None:
        api = self.api
        labels = _parse_label_selector(query.get("labelSelector"))
        fields = _parse_field_selector(t.res, query.get("fieldSelector"))
        rv_text = query.get("resourceVersion") or ""
        bookmarks = query.get("allowWatchBookmarks") in _TRUE
        initial_events = query.get("sendInitialEvents") in _TRUE
        timeout: float | None = None
        if query.get("timeoutSeconds"):
            text = query["timeoutSeconds"]
            try:
                timeout = float(text) if api.allow_fractional_timeouts else int(text)
            except ValueError:
                raise _bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
        try:
            rv = int(rv_text) if rv_text not in ("", "0") else None
        except ValueError:
            raise _bad_request(f'resourceVersion: Invalid value: "{rv_text}"') from None
        loop = asyncio.get_running_loop()
        if rv is not None and rv > int(api._rv):  # the watch cache waits, then gives up
            deadline = loop.time() + api.too_large_rv_wait
            while api._rv < rv and loop.time() < deadline:
                await asyncio.sleep(0.05)
            if api._rv < rv:
                raise KubeAPIError(
                    504,
                    "Timeout",
                    f"Too large resource version: {rv}, current: {api._rv}",
                    {
                        "causes": [
                            {
                                "reason": "ResourceVersionTooLarge",
                                "message": "Too large resource version",
                            }
                        ],
                        "retryAfterSeconds": 1,
                    },
                    {"Retry-After": "1"},
                )
        w = _Watcher(loop, t.res, t.namespace, labels, fields, bookmarks)
        expired: KubeAPIError | None = None
        initial: list[tuple[str, dict]] = []
        with api._lock:
            if rv is None or initial_events:
                initial = [("ADDED", o) for o in api._items(t.res, t.namespace) if w.matches(o)]
            elif rv < api._floor:
                expired = KubeAPIError(
                    410, "Expired", f"too old resource version: {rv} ({api._floor})"
                )
            else:
                for erv, res, etype, prev, obj in api._history:
                    if erv > rv and res.key == t.res.key:
                        ev = w.translate(etype, prev, obj)
                        if ev:
                            initial.append(ev)
            if initial_events and bookmarks:
                initial.append(
                    ("BOOKMARK", api._bookmark_obj(t.res, {"k8s.io/initial-events-end": "true"}))
                )
            if expired is None:
                api._watchers.add(w)
                if api._down:
                    w.cut = True
        self._live = w
        self.set_status(200)
        self.set_header("Content-Type", "application/json")
        try:
            if expired is not None:
                await self._write_line({"type": "ERROR", "object": expired.status()})
                self.finish()
                return
            for etype, obj in initial:
                if not await self._write_line({"type": etype, "object": obj}):
                    break
            else:
                self.write(b"")
                await self.flush()
            start = loop.time()
            next_bookmark = start + api.bookmark_interval
            while not (w.cut or w.closed):
                while w.queue and not (w.cut or w.closed):
                    etype, obj = w.queue.popleft()
                    if not await self._write_line({"type": etype, "object": obj}):
                        break
                if w.cut or w.closed:
                    break
                now = loop.time()
                if timeout is not None and now >= start + timeout:
                    break
                if bookmarks and now >= next_bookmark:
                    with api._lock:
                        bm = api._bookmark_obj(t.res)
                    await self._write_line({"type": "BOOKMARK", "object": bm})
                    next_bookmark = now + api.bookmark_interval
                    continue
                wait = next_bookmark - now if bookmarks else None
                if timeout is not None:
                    left = start + timeout - now
                    wait = left if wait is None else min(wait, left)
                w.event.clear()
                if w.queue or w.cut or w.closed:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.event.wait(), wait)
        finally:
            with api._lock:
                api._watchers.discard(w)
        if w.cut or w.closed:
            self._abort()
            return
        self.finish()

    def _abort(self) -> None:
        """End the response without the final chunk: the client sees a cut connection."""
        self._finished = True  # tornado must not try to finish a response on a closed stream
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.close()

    # ---- pod logs ------------------------------------------------------------------------

    async def _pod_log(self, t: _Target, query: dict):
        api = self.api
        ns, name = t.namespace or "", t.name or ""
        follow = query.get("follow") in _TRUE
        with api._lock:
            pod = api._must(t.res, ns, name)
            containers = [c["name"] for c in _dig(pod, "spec.containers") or []]
            inits = [c["name"] for c in _dig(pod, "spec.initContainers") or []]
            container = query.get("container")
            if not container:
                if len(containers) != 1:
                    raise _bad_request(
                        f"a container name must be specified for pod {name}, "
                        f"choose one of: [{' '.join(containers)}]"
                    )
                container = containers[0]
            if container not in containers + inits:
                raise _bad_request(f"container {container} is not valid for pod {name}")
            if not _dig(pod, "spec.nodeName"):
                return ("ok", 204, b"")
            self._log_check(pod, container, query.get("previous") in _TRUE)
        try:
            tail = int(query["tailLines"]) if query.get("tailLines") else None
            limit_bytes = int(query["limitBytes"]) if query.get("limitBytes") else None
            since = None
            if query.get("sinceTime") and query.get("sinceSeconds"):
                raise _bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
            if query.get("sinceTime"):
                since = _parse_ts(query["sinceTime"])
            elif query.get("sinceSeconds"):
                since = _now() - timedelta(seconds=int(query["sinceSeconds"]))
        except ValueError as e:
            raise _bad_request(f"invalid log options: {e}") from None
        stamps = query.get("timestamps") in _TRUE
        key = (ns, name, container)

        def render(lines: list[tuple[datetime, str]]) -> str:
            return "".join(f"{_ts_nano(ts)} {text}" if stamps else text for ts, text in lines)

        with api._lock:
            lines = list(api._logs.get(key, []))
        pos = len(lines)
        # a trailing partial line may still grow: send only complete lines while following
        if follow and lines and not lines[-1][1].endswith("\n"):
            pos -= 1
            lines = lines[:-1]
        if since is not None:
            lines = [(ts, x) for ts, x in lines if ts >= since]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        text = render(lines)
        sent = 0
        if limit_bytes is not None:
            text = text.encode()[:limit_bytes].decode(errors="ignore")
        if not follow:
            return ("ok", 200, text, "text/plain")
        f = _LogFollower(asyncio.get_running_loop(), ns, name)
        with api._lock:
            api._followers.add(f)
            if api._down:
                f.cut = True
        self._live = f
        self.set_status(200)
        self.set_header("Content-Type", "text/plain")
        try:
            if text:
                self.write(text.encode())
                sent += len(text.encode())
            await self.flush()
            while not (f.cut or f.closed):
                f.event.clear()
                with api._lock:
                    cur = api._find(t.res, ns, name)
                    all_lines = api._logs.get(key, [])
                    done = (
                        cur is None
                        or cur["metadata"]["uid"] != pod["metadata"]["uid"]
                        or self._terminated(cur, container)
                    )
                    end = len(all_lines)
                    if not done and all_lines and not all_lines[-1][1].endswith("\n"):
                        end -= 1
                    fresh = all_lines[pos:end]
                    pos = end
                chunk = render(fresh).encode()
                if limit_bytes is not None:
                    chunk = chunk[: max(0, limit_bytes - sent)]
                if chunk:
                    self.write(chunk)
                    sent += len(chunk)
                    try:
                        await self.flush()
                    except tornado.iostream.StreamClosedError:
                        break
                if done or (limit_bytes is not None and sent >= limit_bytes):
                    break
                await f.event.wait()
        except tornado.iostream.StreamClosedError:
            f.closed = True
        finally:
            with api._lock:
                api._followers.discard(f)
        if f.cut or f.closed:
            self._abort()
            return None
        self.finish()
        return None

    @staticmethod
    def _status_of(pod: dict, container: str) -> dict | None:
        for field in ("containerStatuses", "initContainerStatuses"):
            for cs in _dig(pod, f"status.{field}") or []:
                if cs.get("name") == container:
                    return cs
        return None

    def _terminated(self, pod: dict, container: str) -> bool:
        cs = self._status_of(pod, container)
        return cs is not None and (cs.get("state") or {}).get("terminated") is not None

    def _log_check(self, pod: dict, container: str, previous: bool) -> None:
        """The kubelet's validateContainerLogStatus."""
        name = pod["metadata"]["name"]
        cs = self._status_of(pod, container)
        if previous:
            raise _bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        if cs is None:
            raise _bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        state = cs.get("state") or {}
        if state.get("running") is not None or state.get("terminated") is not None:
            return
        if (cs.get("lastState") or {}).get("terminated") is not None:
            return
        waiting = state.get("waiting")
        if waiting is not None:
            reason = waiting.get("reason") or ""
            text = {
                "ErrImagePull": "image can't be pulled",
                "ImagePullBackOff": "trying and failing to pull image",
            }.get(reason, reason)
            raise _bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: {text}'
            )
        raise _bad_request(
            f'container "{container}" in pod "{name}" is waiting to start - no logs yet'
        )
