"""Offline validation of the Kubernetes objects and Helm values TZ generates.

No cluster, no ``helm`` binary: every check here runs against schemas vendored in
``tests/schemas/`` (see its README for sources and licenses).

- :func:`validate` — one object. Built-in kinds go through ``kubernetes_validate`` (Kubernetes
  1.30, ``strict=True``: unknown fields fail); custom resources through ``jsonschema`` against the
  ``openAPIV3Schema`` of their CRD, made strict the way the API server's strict field validation
  is (an object schema with ``properties`` and neither ``additionalProperties`` nor
  ``x-kubernetes-preserve-unknown-fields`` rejects unknown keys). Metadata is checked like the API
  server does (names, label keys and values), which ``kubernetes_validate`` does not. A kind that
  has no schema at all is an ``AssertionError``: ``kubernetes_validate`` would only warn.
  CEL rules (``x-kubernetes-validations``) cannot be evaluated offline and are not checked.
- :func:`pss_restricted` — the Pod Security Standards "restricted" level (baseline included) over
  a Pod or any object with a pod template; returns the violations as ``"<check id>: <field>:
  <problem>"`` strings, check ids as in ``k8s.io/pod-security-admission/policy``.
- :func:`validate_values` — Helm values against Zero-to-JupyterHub 4.4's ``values.schema.yaml``,
  after merging them over the chart's defaults as ``helm`` does; :func:`validate_tz_values`
  against our own ``helm-values/values.schema.yaml``.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).parent / "schemas"
Z2JH = SCHEMAS / "zero-to-jupyterhub-4.4.0"
TZ_VALUES_SCHEMA = Path(__file__).parents[1] / "helm-values" / "values.schema.yaml"
KUBERNETES_VERSION = "1.30.0"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(root)"


# ---- custom resources -------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it with strict field validation."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if k != "properties"}
    if "properties" in schema:
        out["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        if "additionalProperties" not in schema and not preserve:
            out["additionalProperties"] = False
    if schema.get("nullable") and "type" in schema:  # OpenAPI 3.0, not JSON Schema
        out["type"] = [schema["type"], "null"]
    return out


@lru_cache(maxsize=1)
def crd_schemas() -> dict[tuple[str, str, str], dict]:
    """``(group, version, kind)`` -> strict ``openAPIV3Schema``, from every vendored CRD."""
    found: dict[tuple[str, str, str], dict] = {}
    for path in sorted(SCHEMAS.glob("*/*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_Loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                schema = version["schema"]["openAPIV3Schema"]
                found[(spec["group"], version["name"], spec["names"]["kind"])] = _strict(schema)
    return found


def _validate_custom(obj: dict, schema: dict, where: str) -> None:
    validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is not None:
        raise AssertionError(f"{where}: {_path(error.absolute_path)}: {error.message}")


# ---- metadata (what the API server checks and kubernetes_validate does not) -------------------

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RFC1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Kinds whose names must be DNS labels (RFC 1123; Service: RFC 1035), not subdomains.
LABEL_NAMED = {"Namespace", "Pod", "StatefulSet", "Job", "CronJob"}


def _qualified_key(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        return "name part must be 1-63 alphanumerics, '-', '_' or '.'"
    return None


def _check_metadata(obj: dict, where: str) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise AssertionError(f"{where}: metadata: required")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise AssertionError(f"{where}: metadata.name: required")
    kind = obj.get("kind")
    if kind == "Service":
        ok = len(name) <= 63 and bool(RFC1035_LABEL.match(name))
    elif kind in LABEL_NAMED:
        ok = len(name) <= 63 and bool(DNS_LABEL.match(name))
    elif kind and kind.endswith(("Role", "RoleBinding")):
        ok = "/" not in name and "%" not in name and name not in (".", "..")
    else:
        ok = len(name) <= 253 and bool(DNS_SUBDOMAIN.match(name))
    if not ok:
        raise AssertionError(f"{where}: metadata.name: {name!r} is not a valid {kind} name")
    namespace = meta.get("namespace")
    if namespace is not None and not (len(namespace) <= 63 and DNS_LABEL.match(namespace)):
        raise AssertionError(f"{where}: metadata.namespace: {namespace!r} is not a DNS label")
    for field in ("labels", "annotations"):
        for key, value in (meta.get(field) or {}).items():
            problem = _qualified_key(key)
            if problem:
                raise AssertionError(f"{where}: metadata.{field}[{key!r}]: {problem}")
            if not isinstance(value, str):
                raise AssertionError(f"{where}: metadata.{field}[{key!r}]: must be a string")
            if field == "labels" and (len(value) > 63 or not LABEL_VALUE.match(value)):
                raise AssertionError(f"{where}: metadata.labels[{key!r}]: bad value {value!r}")


# ---- one object -------------------------------------------------------------------------------


def validate(obj: dict) -> None:
    """Validate one Kubernetes object strictly; raise ``AssertionError`` naming the field.

    Raises
    ------
    AssertionError
        The object is invalid, or no schema is known for its apiVersion/kind.
    """
    if not isinstance(obj, dict):
        raise AssertionError(f"not a Kubernetes object: {obj!r:.80}")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    name = (obj.get("metadata") or {}).get("name")
    where = f"{kind or '?'} {name!r}"
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise AssertionError(f"{where}: apiVersion and kind are required")
    _check_metadata(obj, where)
    group, _, version = api_version.rpartition("/")
    schema = crd_schemas().get((group, version, kind))
    if schema is not None:
        _validate_custom(obj, schema, where)
        # The CRD says only `metadata: {type: object}`; check it as the ObjectMeta it is.
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        raise AssertionError(
            f"{where}: no schema for {api_version} {kind} (neither Kubernetes "
            f"{KUBERNETES_VERSION} nor a CRD in tests/schemas/)"
        ) from None
    except kubernetes_validate.ValidationError as e:
        raise AssertionError(f"{where}: {_path(e.absolute_path)}: {e.message}") from None


def validate_all(objects: list[dict]) -> None:
    for obj in objects:
        validate(obj)


# ---- Pod Security Standards -------------------------------------------------------------------

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
}  # fmt: skip
RESTRICTED_VOLUMES = {
    "configMap", "downwardAPI", "emptyDir", "projected", "secret", "csi",
    "persistentVolumeClaim", "ephemeral", "image",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def pod_template(obj: dict) -> tuple[dict, dict]:
    """``(metadata, spec)`` of the pod an object runs: a Pod, a workload, or a CronJob."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("metadata") or {}, obj.get("spec") or {}
    spec = obj.get("spec") or {}
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    if kind == "PodTemplate":
        template = obj.get("template") or {}
    else:
        template = spec.get("template")
    if not isinstance(template, dict):
        raise AssertionError(f"{kind}: no pod template to check")
    return template.get("metadata") or {}, template.get("spec") or {}


def pss_restricted(pod: dict) -> list[str]:
    """Violations of Pod Security "restricted" (which includes "baseline"), newest policy.

    Follows ``k8s.io/pod-security-admission/policy`` (v1.36): every check visits init, regular and
    ephemeral containers. Returns ``[]`` for a compliant pod.
    """
    meta, spec = pod_template(pod)
    out: list[str] = []
    annotations = meta.get("annotations") or {}
    host_users = spec.get("hostUsers", True)
    windows = (spec.get("os") or {}).get("name") == "windows"
    psc = spec.get("securityContext") or {}
    containers = [
        (f"spec.{field}[{i}]", c)
        for field in CONTAINER_LISTS
        for i, c in enumerate(spec.get(field) or [])
    ]

    # -- baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"hostNamespaces: spec.{field}: must be false or unset")
    for i, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            out.append(f"hostPathVolumes: spec.volumes[{i}].hostPath: forbidden")
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/"):
            if value != "runtime/default" and not value.startswith("localhost/"):
                out.append(f"appArmorProfile: metadata.annotations[{key}]: {value!r}")
        if key == "seccomp.security.alpha.kubernetes.io/pod" or key.startswith(
            "container.seccomp.security.alpha.kubernetes.io/"
        ):
            if value == "unconfined":
                out.append(f"seccompProfile_baseline: metadata.annotations[{key}]: unconfined")
    for i, sysctl in enumerate(psc.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctls: spec.securityContext.sysctls[{i}]: {sysctl.get('name')!r}")

    contexts = [("spec.securityContext", psc)] + [
        (f"{where}.securityContext", c.get("securityContext") or {}) for where, c in containers
    ]
    for where, sc in contexts:
        apparmor = (sc.get("appArmorProfile") or {}).get("type")
        if apparmor not in (None, "RuntimeDefault", "Localhost"):
            out.append(f"appArmorProfile: {where}.appArmorProfile.type: {apparmor!r}")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp == "Unconfined":
            out.append(f"seccompProfile_baseline: {where}.seccompProfile.type: Unconfined")
        selinux = sc.get("seLinuxOptions") or {}
        if selinux.get("type", "") not in SELINUX_TYPES:
            out.append(f"seLinuxOptions: {where}.seLinuxOptions.type: {selinux['type']!r}")
        for field in ("user", "role"):
            if selinux.get(field):
                out.append(f"seLinuxOptions: {where}.seLinuxOptions.{field}: must be unset")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"windowsHostProcess: {where}.windowsOptions.hostProcess: forbidden")

    for where, c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"privileged: {where}.securityContext.privileged: must be false")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        for cap in sorted(added - BASELINE_CAPABILITIES):
            out.append(f"capabilities_baseline: {where}.securityContext.capabilities.add: {cap}")
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                out.append(f"hostPorts: {where}.ports[{j}].hostPort: must be unset or 0")
        proc_mount = sc.get("procMount")
        if proc_mount not in (None, "Default"):
            if host_users is not False:
                out.append(f"procMount: {where}.securityContext.procMount: {proc_mount!r}")
            out.append(f"procMount_restricted: {where}.securityContext.procMount: {proc_mount!r}")
        handlers = [(f"{p}", c.get(p) or {}) for p in ("livenessProbe", "readinessProbe",
                                                       "startupProbe")]  # fmt: skip
        lifecycle = c.get("lifecycle") or {}
        handlers += [(f"lifecycle.{p}", lifecycle.get(p) or {}) for p in ("postStart", "preStop")]
        for name, handler in handlers:
            for action in ("httpGet", "tcpSocket"):
                if (handler.get(action) or {}).get("host"):
                    out.append(
                        f"hostProbesAndHostLifecycle: {where}.{name}.{action}.host: must be unset"
                    )

    # -- restricted
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = set(volume) - {"name"}
        for kind in sorted(kinds - RESTRICTED_VOLUMES):
            out.append(f"restrictedVolumes: spec.volumes[{i}].{kind}: volume type not allowed")

    pod_non_root = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if host_users is not False:
        if pod_non_root is False:
            out.append("runAsNonRoot: spec.securityContext.runAsNonRoot: must be true")
        if psc.get("runAsUser") == 0:
            out.append("runAsUser: spec.securityContext.runAsUser: must not be 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"seccompProfile_restricted: spec.securityContext.seccompProfile.type: "
                   f"{pod_seccomp!r}")  # fmt: skip
    for where, c in containers:
        sc = c.get("securityContext") or {}
        at = f"{where}.securityContext"
        if not windows:
            if sc.get("allowPrivilegeEscalation") is not False:
                out.append(f"allowPrivilegeEscalation: {at}.allowPrivilegeEscalation: "
                           "must be set to false")  # fmt: skip
            caps = sc.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                out.append(f"capabilities_restricted: {at}.capabilities.drop: must include ALL")
            for cap in sorted(set(caps.get("add") or []) - {"NET_BIND_SERVICE"}):
                out.append(f"capabilities_restricted: {at}.capabilities.add: {cap}")
            seccomp = (sc.get("seccompProfile") or {}).get("type")
            if seccomp is None and pod_seccomp is None:
                out.append(f"seccompProfile_restricted: {at}.seccompProfile.type: must be set "
                           "(here or on the pod) to RuntimeDefault or Localhost")  # fmt: skip
            elif seccomp not in (None, "RuntimeDefault", "Localhost"):
                out.append(f"seccompProfile_restricted: {at}.seccompProfile.type: {seccomp!r}")
        if host_users is not False:
            non_root = sc.get("runAsNonRoot")
            if non_root is False or (non_root is None and pod_non_root is not True):
                out.append(f"runAsNonRoot: {at}.runAsNonRoot: must be true "
                           "(here or on the pod)")  # fmt: skip
            if sc.get("runAsUser") == 0:
                out.append(f"runAsUser: {at}.runAsUser: must not be 0")
    return out


# ---- Helm values ------------------------------------------------------------------------------


def helm_merge(defaults: Any, values: Any) -> Any:
    """Merge user values over chart defaults as Helm does: maps merge, ``null`` removes a key."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return copy.deepcopy(values)
    out = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = helm_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _validate_schema(document: Any, schema: dict, what: str) -> None:
    validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise AssertionError(f"{what}: {_path(error.absolute_path)}: {error.message}")


def validate_values(values: dict) -> None:
    """Validate Helm values (over the chart's defaults) against z2jh 4.4's schema."""
    merged = helm_merge(load_yaml(Z2JH / "values.yaml"), values)
    _validate_schema(merged, load_yaml(Z2JH / "values.schema.yaml"), "z2jh 4.4 values")


def validate_tz_values(values: dict) -> None:
    """Validate Helm values against TZ's ``helm-values/values.schema.yaml`` (``custom.tz``)."""
    _validate_schema(values, load_yaml(TZ_VALUES_SCHEMA), "helm-values/values.schema.yaml")
