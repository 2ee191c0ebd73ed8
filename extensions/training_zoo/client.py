"""The Python SDK: one synchronous REST client for the TZ service, shaped like the Kubeflow SDK.

Exports
-------
Client
    ``Client(url=None, token=None, *, timeout=30.0, transport=None)``; methods ``info``,
    ``upload_snapshot``, ``train``, ``list_jobs``, ``get_job``, ``get_job_events``,
    ``get_job_logs``, ``get_job_metrics``, ``poll_job_metrics``, ``iter_job_metrics``,
    ``wait_for_job_status``, ``cancel_job``, ``clone_job``, ``delete_job``, ``queue``; the
    workspace (``ws_spaces``, ``ws_list``, ``ws_stat``, ``ws_mkdir``, ``ws_move``, ``ws_copy``,
    ``ws_delete``, ``ws_download``, ``ws_upload`` and the upload-session calls under them) and
    datasets (``list_datasets``, ``create_dataset``, ``get_dataset``, ``resolve_dataset``,
    ``add_dataset_files``, ``annotate``, ``publish_dataset``, ``dataset_versions``,
    ``dataset_manifest``, ``diff_versions``, ``export_dataset``, ``import_annotations``,
    ``open_dataset`` ...) and models (``list_models``, ``create_model``, ``get_model``,
    ``resolve_model``, ``register_model``, ``list_model_versions``, ``get_model_version``,
    ``model_files``, ``download_model``, ``set_model_stage``, ``model_history``,
    ``model_lineage``, ``convert_model``, ``evaluate_model``, ``wait_for_model_run``,
    ``compare_models`` ...).
OpenedDataset, DatasetFile
    What ``open_dataset`` returns: a version's files, annotations and splits; file bytes are
    downloaded on first use into a local cache.
TransferProgress
    What ``progress`` callbacks of uploads and downloads receive.
default_client, set_default_client, facade_forward
    The shared client of the ``tz.workspace`` / ``tz.datasets`` / ``tz.models`` facades, and
    how their packages forward the facade names.
TzClientError
    Every failure talking to the service: HTTP errors (with the server's ``message``, ``status``,
    ``reason`` and per-field ``errors``), connection errors and missing configuration.
EventStream
    What ``follow=True`` returns: an iterator with a thread-safe ``close()``.
ServerSentEvent, iter_sse
    The small Server-Sent Events parser behind it.
TERMINAL_STATUSES, resolve_api_url
parse_model_ref, model_source, run_status_line, MODEL_STAGES, MODEL_FORMATS, CONVERSION_TARGETS
    Model references ``[owner/]name[:N]``, where a registration takes its files from, and a
    conversion or evaluation run's one-line state.

The magics, the widgets and the ``tz`` CLI all go through :class:`Client`, so authentication and
error handling live here once. Importing this module stays light (httpx and the standard library).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote

import httpx

from .checksums import CRC32_HEADER
from .datasets.reader import FileSet
from .snapshot import DEFAULT_MAX_BYTES, pack_directory
from .transfers import TransferProgress, download_path, download_to, upload_path

__all__ = [
    "CONVERSION_TARGETS",
    "MODEL_FORMATS",
    "MODEL_STAGES",
    "TERMINAL_STATUSES",
    "Client",
    "DatasetFile",
    "EventStream",
    "OpenedDataset",
    "ServerSentEvent",
    "TransferProgress",
    "TzClientError",
    "default_client",
    "facade_forward",
    "iter_sse",
    "model_source",
    "parse_model_ref",
    "resolve_api_url",
    "run_status_line",
    "set_default_client",
]

#: Job statuses after which nothing changes any more.
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

_API_SUFFIX = "/api/v1"
_SERVICE_PREFIX = "/services/tz"
_NAME_INVALID = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_MAX = 63
# Logs and metrics streams send a keepalive comment every 15 s; four missed ones mean the
# connection is gone even if the socket has not noticed yet.
_STREAM_READ_TIMEOUT = 60.0
_PAGE_LIMIT = 100
_WS_PAGE_LIMIT = 1000
_DATASET_ID = re.compile(r"^ds-[0-9a-f]{12}$")
_VERSION = re.compile(r"^V\d{3,}$")

T = TypeVar("T")

_CONFIG_HELP = (
    "set TZ_URL to the hub's public URL (e.g. http://127.0.0.1:8000) and TZ_TOKEN to a hub API "
    "token (from <hub>/hub/token), or pass url= and token= (tz --url/--token)"
)


class TzClientError(Exception):
    """A request to the TZ service failed.

    Parameters
    ----------
    message : str
        What went wrong, for people: the server's ``message`` when it sent one.
    status : int or None
        HTTP status, or None when no response came (connection error, missing configuration).
    reason : str or None
        Short machine-readable reason from the server (``NotFound``, ``Conflict``...), or a client
        one (``ConnectionError``, ``NotConfigured``, ``Timeout``).
    errors : dict or None
        Per-field messages for invalid requests, e.g. ``{"nodes": "must be >= 1"}``.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        reason: str | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.errors: dict[str, str] = dict(errors or {})

    @property
    def details(self) -> list[str]:
        """``field: message`` lines for the field errors the message does not already say."""
        return [f"{field}: {msg}" for field, msg in self.errors.items() if msg not in self.message]

    def __str__(self) -> str:
        details = self.details
        return f"{self.message} ({'; '.join(details)})" if details else self.message


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched Server-Sent Event.

    Attributes
    ----------
    event : str
        The event type; ``"message"`` when the stream gave none.
    data : str
        The data lines, joined with newlines.
    id : str or None
        The last ``id:`` field seen, if any.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        """Decode ``data`` as JSON (``None`` for an empty payload)."""
        return json.loads(self.data) if self.data else None


def iter_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """Parse Server-Sent Events from decoded lines (line endings already removed).

    Follows the WHATWG rules that matter here: ``field: value`` with one optional space after the
    colon, ``data`` lines joined with newlines, ``:`` comments (keepalives) ignored, unknown fields
    ignored, and an event dispatched on a blank line. An event with a type but no data is still
    dispatched, so a bare ``event: end`` ends a stream; an unterminated event at end of input is
    dropped, as the standard says.

    Parameters
    ----------
    lines : iterable of str
        Lines as from ``httpx.Response.iter_lines()``.

    Yields
    ------
    ServerSentEvent
    """
    event = ""
    data: list[str] = []
    last_id: str | None = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data or event:
                yield ServerSentEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id" and "\x00" not in value:
            last_id = value


def resolve_api_url(url: str) -> str:
    """Turn a hub URL, a service URL or an API base URL into the API base URL.

    Parameters
    ----------
    url : str
        ``http://hub:8000`` (public hub URL), ``http://host/services/tz/`` (service URL) or a URL
        that already ends with ``/api/v1`` (used as is, e.g. ``/user/<name>/tz/api/v1``).

    Returns
    -------
    str
        The base URL without a trailing slash, e.g. ``http://hub:8000/services/tz/api/v1``.
    """
    base = url.strip().rstrip("/")
    if base.endswith(_API_SUFFIX):
        return base
    if base.endswith(_SERVICE_PREFIX):
        return base + _API_SUFFIX
    return base + _SERVICE_PREFIX + _API_SUFFIX


def _resolve_config(url: str | None, token: str | None) -> tuple[str, str]:
    env = os.environ
    if url:
        api = resolve_api_url(url)
    elif env.get("TZ_URL"):
        api = resolve_api_url(env["TZ_URL"])
    elif env.get("TZ_SERVICE_URL"):
        # Inside a user server the hub hands us the service's own URL (…/services/tz/).
        api = resolve_api_url(env["TZ_SERVICE_URL"])
    else:
        raise TzClientError(f"no TZ service configured: {_CONFIG_HELP}", reason="NotConfigured")
    token = token or env.get("TZ_TOKEN") or env.get("JUPYTERHUB_API_TOKEN")
    if not token:
        raise TzClientError(f"no API token for {api}: {_CONFIG_HELP}", reason="NotConfigured")
    return api, token


def _item_path(collection: str, item_id: str, *rest: str) -> str:
    """``collection/<item_id>/rest...``: ids (of jobs, datasets, models, runs) come from users
    and servers alike; quoting keeps one a single path segment."""
    return "/".join([collection, quote(str(item_id), safe=""), *rest])


def _job_path(job_id: str, *rest: str) -> str:
    return _item_path("jobs", job_id, *rest)


def _default_name(stem: str) -> str:
    # Names must start with a letter or digit (the service's pattern) and fit in 63 characters.
    name = _NAME_INVALID.sub("-", stem).lstrip("-._")[:_NAME_MAX].rstrip("-._")
    return name or "job"


def _error_from_response(response: httpx.Response) -> TzClientError:
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        errors = body.get("errors")
        return TzClientError(
            body["message"],
            status=status,
            reason=body.get("reason"),
            errors=errors if isinstance(errors, dict) else None,
        )
    # Not our JSON (a proxy's HTML page, a crash page): say what happened without dumping the
    # body, which may be a traceback or a whole web page.
    phrase = response.reason_phrase or "error"
    return TzClientError(
        f"{response.request.method} {response.request.url.path} failed: HTTP {status} {phrase}",
        status=status,
        reason=phrase,
    )


class EventStream(Iterator[T], Generic[T]):
    """Items of a ``follow=True`` stream, until the service sends ``event: end``.

    Iterate it like any iterator; :meth:`close` ends it early and may be called from another
    thread (a widget being closed), which a plain generator does not allow.

    Parameters
    ----------
    response : httpx.Response
        An open streaming response.
    convert : callable
        Turns a data event into an item.
    path : str
        For error messages.
    """

    def __init__(
        self, response: httpx.Response, convert: Callable[[ServerSentEvent], T], path: str
    ) -> None:
        self._response = response
        self._events = iter_sse(response.iter_lines())
        self._convert = convert
        self._path = path
        self._closed = False

    def __iter__(self) -> EventStream[T]:
        return self

    def __next__(self) -> T:
        while not self._closed:
            try:
                event = next(self._events)
            except StopIteration:
                break
            except Exception as exc:
                # Closing from another thread makes the blocked read fail in various ways
                # (closed stream, socket errors); that is the requested end, not an error.
                if self._closed:
                    break
                self.close()
                if isinstance(exc, httpx.HTTPError | httpx.StreamError):
                    raise TzClientError(
                        f"stream {self._path} broke off: {exc}", reason="ConnectionError"
                    ) from exc
                raise
            if event.event == "end":
                break
            if event.event == "message" and event.data:
                return self._convert(event)
        self.close()
        raise StopIteration

    def __enter__(self) -> EventStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether the stream has ended or was closed."""
        return self._closed

    def close(self) -> None:
        """End the stream and release its connection (safe from any thread, idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._response.close()
        except Exception:  # noqa: BLE001 - racing a reader in another thread; nothing to report
            pass


def _log_item(event: ServerSentEvent) -> tuple[int, str]:
    item = event.json()
    return int(item.get("rank", 0)), str(item.get("line", ""))


class Client:
    """Synchronous client for the TZ REST API v1.

    Parameters
    ----------
    url : str, optional
        Hub public URL (``http://127.0.0.1:8000``), service URL (``…/services/tz/``) or API base
        (``…/api/v1``). Default: ``$TZ_URL``, else ``$TZ_SERVICE_URL`` (set inside user servers).
    token : str, optional
        Hub API token. Default: ``$TZ_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``.
    timeout : float, optional
        Seconds for connecting, and for each read and write (not for a whole stream).
    transport : httpx.BaseTransport, optional
        Custom transport, e.g. ``httpx.MockTransport`` in tests.

    Raises
    ------
    TzClientError
        No URL or no token could be found; the message says what to set.

    Examples
    --------
    >>> tz = Client()                                      # doctest: +SKIP
    >>> job = tz.train("train.py", nodes=2, procs_per_node=4, gpus_per_node=4)  # doctest: +SKIP
    >>> tz.wait_for_job_status(job["id"])["status"]        # doctest: +SKIP
    'succeeded'
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url, token = _resolve_config(url, token)
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.api_url + "/",
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"<Client {self.api_url}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send ``request``; connection problems and HTTP errors become TzClientError."""
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise TzClientError(
                f"the TZ service at {self.api_url} did not answer in time ({exc})",
                reason="Timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise TzClientError(
                f"cannot reach the TZ service at {self.api_url}: {exc}", reason="ConnectionError"
            ) from exc
        if response.is_error:
            if stream:
                try:
                    response.read()
                finally:
                    response.close()
            raise _error_from_response(response)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(self._http.build_request(method, path, **kwargs))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TzClientError(
                f"{method} {path}: the service answered with invalid JSON",
                status=response.status_code,
                reason="InvalidResponse",
            ) from exc

    def _open_stream(self, path: str, params: Mapping[str, Any]) -> httpx.Response:
        """Open a ``follow=true`` SSE response, raising the service's error if it refuses."""
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, _STREAM_READ_TIMEOUT))
        request = self._http.build_request(
            "GET",
            path,
            params={**params, "follow": "true"},
            headers={"Accept": "text/event-stream"},
            timeout=timeout,
        )
        return self._send(request, stream=True)

    @contextmanager
    def _stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed response (downloads, manifests), closed on exit; errors raised first."""
        response = self._send(self._http.build_request(method, path, **kwargs), stream=True)
        try:
            yield response
        finally:
            response.close()

    def _paged(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Items of an offset/limit listing (``_pagination.next``), page by page."""
        query: dict[str, Any] = {"offset": 0, "limit": _PAGE_LIMIT, **(params or {})}
        while True:
            page = self._json("GET", path, params=query)
            yield from page.get("items", [])
            nxt = (page.get("_pagination") or {}).get("next")
            # Follow offset/limit rather than next.url: the url is built from the service's view
            # of its own address, which a client behind another proxy may not reach.
            if not nxt or nxt.get("offset") is None or nxt["offset"] <= query["offset"]:
                return
            query["offset"] = nxt["offset"]
            query["limit"] = nxt.get("limit") or query["limit"]

    # -- service ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Service version, backends and the calling user.

        Returns
        -------
        dict
            ``{"version", "backends": {"jobs": ...}, "user": {"name", "admin", "groups",
            "scopes"}}``.

        Raises
        ------
        TzClientError
            On any HTTP or connection error (also for every method below).
        """
        return self._json("GET", "")

    def queue(self) -> dict[str, Any]:
        """Cluster capacity and usage plus the caller's queued and running jobs.

        Returns
        -------
        dict
            ``{"total": {"gpus", "cpus"}, "used": {...}, "running", "queued", "items"}``.
        """
        return self._json("GET", "queue")

    # -- snapshots and submission ----------------------------------------------------------

    def upload_snapshot(
        self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> dict[str, Any]:
        """Pack a folder and upload it as a working-directory snapshot.

        Parameters
        ----------
        path : str or os.PathLike
            The folder (see :func:`training_zoo.snapshot.pack_directory` for what is skipped).
        max_bytes : int, optional
            Uncompressed size limit checked before uploading.

        Returns
        -------
        dict
            ``{"id": "<sha256>", "size": bytes, "files": n}``.

        Raises
        ------
        SnapshotTooLarge
            The folder passes ``max_bytes`` (a ``ValueError``).
        NotADirectoryError
            ``path`` is not a folder.
        TzClientError
            The service refused the upload (e.g. 413 over its own limit).
        """
        data = pack_directory(path, max_bytes=max_bytes)
        return self._json(
            "POST", "snapshots", content=data, headers={"Content-Type": "application/gzip"}
        )

    def train(
        self,
        script: str | os.PathLike[str] | None = None,
        *,
        code: str | None = None,
        args: Sequence[Any] = (),
        name: str | None = None,
        framework: str = "pytorch",
        working_dir: str | os.PathLike[str] | None = ".",
        nodes: int = 1,
        procs_per_node: int = 1,
        gpus_per_node: int = 0,
        cpus_per_node: float | None = None,
        memory_per_node: str | None = None,
        env: Mapping[str, Any] | None = None,
        max_retries: int = 0,
        timeout: int = 0,
        priority: int = 0,
        datasets: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Submit a training job (Kubeflow ``TrainerClient.train`` flavour).

        The working directory is packed and uploaded first, so the job sees the same files as the
        notebook; then the job is created with ``POST /jobs``.

        Parameters
        ----------
        script : str or os.PathLike, optional
            Entry script. A relative path is taken from the current directory, like a shell
            would; it must lie inside ``working_dir`` and is sent relative to it.
        code : str, optional
            Source code to run as the entry instead of ``script`` (what ``%%tz_train`` sends).
        args : sequence, optional
            Arguments for the script; each is converted with ``str``.
        name : str, optional
            Job name; default derived from the script's file name (``train.py`` → ``train``) or
            ``cell`` for ``code``. Invalid characters become ``-``.
        framework : {"pytorch", "tensorflow", "custom"}
            How ranks are launched (torchrun, ``TF_CONFIG``, or plain processes).
        working_dir : str or os.PathLike or None, optional
            Folder to snapshot (default the current directory). ``None`` means: with ``code``,
            upload nothing; with ``script``, the script's own folder.
        nodes, procs_per_node : int
            Kubeflow ``numNodes`` and ``numProcPerNode``; world size is their product.
        gpus_per_node : int
            GPUs per node.
        cpus_per_node : float, optional
            CPUs per node; service default when omitted.
        memory_per_node : str, optional
            Memory per node as a Kubernetes quantity, e.g. ``"16Gi"``.
        env : mapping, optional
            Extra environment variables (``TZ_*`` names are reserved by the service).
        max_retries : int
            Restarts of the whole job after a failure.
        timeout : int
            Seconds before the job is stopped; 0 means none.
        priority : int
            Higher runs first; FIFO within one priority.
        datasets : sequence of str
            Dataset versions the job reads (``"pets:V001"``, ``"bob/coco:V003"``, or ``"pets"``
            for the latest); inside the job ``training_zoo.datasets.open("pets:V001")`` finds
            them, and the job records the exact versions (``job["lineage"]``).

        Returns
        -------
        dict
            The created Job (``id``, ``status``, ``spec``...).

        Raises
        ------
        ValueError
            Neither or both of ``script`` and ``code``; the script lies outside ``working_dir``;
            or the working directory is too large (``SnapshotTooLarge``).
        FileNotFoundError
            The script does not exist.
        TzClientError
            The service rejected the snapshot or the spec (``errors`` names the fields).
        """
        if (script is None) == (code is None):
            raise ValueError("pass exactly one of script (a file) or code (source text)")
        spec: dict[str, Any] = {"framework": framework}
        workdir: Path | None = None
        if script is not None:
            script_path = Path(script).expanduser().resolve()
            if not script_path.is_file():
                raise FileNotFoundError(f"script {str(script)!r} not found")
            workdir = (
                Path(working_dir).expanduser().resolve()
                if working_dir is not None
                else script_path.parent
            )
            if not script_path.is_relative_to(workdir):
                raise ValueError(
                    f"script {str(script)!r} is outside the working directory {str(workdir)!r}; "
                    "the job only sees files inside it: move the script or choose a working "
                    "directory that contains it"
                )
            spec["entry"] = script_path.relative_to(workdir).as_posix()
            default_name = script_path.stem
        else:
            spec["code"] = code
            if working_dir is not None:
                workdir = Path(working_dir).expanduser().resolve()
            default_name = "cell"
        if workdir is not None:
            snapshot = self.upload_snapshot(workdir)
            spec["snapshot"] = snapshot["id"]
        resources: dict[str, Any] = {"gpus": int(gpus_per_node)}
        if cpus_per_node is not None:
            cpus = float(cpus_per_node)
            resources["cpus"] = int(cpus) if cpus.is_integer() else cpus
        if memory_per_node is not None:
            resources["memory"] = str(memory_per_node)
        spec.update(
            name=name or _default_name(default_name),
            args=[str(a) for a in args],
            env={str(k): str(v) for k, v in (env or {}).items()},
            nodes=int(nodes),
            procs_per_node=int(procs_per_node),
            resources_per_node=resources,
            max_retries=int(max_retries),
            timeout=int(timeout),
            priority=int(priority),
        )
        if datasets:
            spec["datasets"] = [str(d) for d in datasets]
        return self._json("POST", "jobs", json=spec)

    # -- jobs ------------------------------------------------------------------------------

    def list_jobs(
        self, status: str | Iterable[str] | None = None, all: bool = False
    ) -> list[dict[str, Any]]:
        """List jobs, newest first, following pagination to the end.

        Parameters
        ----------
        status : str or iterable of str, optional
            Only these statuses (``"running"``, ``"queued,running"`` or a list).
        all : bool
            Every user's jobs (admins only; the service refuses others).

        Returns
        -------
        list of dict
            Jobs.
        """
        params: dict[str, Any] = {}
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if all:
            params["all"] = "true"
        return list(self._paged("jobs", params))

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Get one job.

        Parameters
        ----------
        job_id : str
            The job's id.

        Returns
        -------
        dict
            The Job.
        """
        return self._json("GET", _job_path(job_id))

    def get_job_events(self, job_id: str) -> list[dict[str, Any]]:
        """Lifecycle events of a job (queued, started, rank exits, retries...).

        Parameters
        ----------
        job_id : str
            The job's id.

        Returns
        -------
        list of dict
            Events, oldest first.
        """
        return self._json("GET", _job_path(job_id, "events")).get("items", [])

    @overload
    def get_job_logs(
        self,
        job_id: str,
        rank: int | None = ...,
        follow: Literal[False] = ...,
        tail: int | None = ...,
    ) -> list[tuple[int, str]]: ...

    @overload
    def get_job_logs(
        self,
        job_id: str,
        rank: int | None = ...,
        follow: Literal[True] = ...,
        tail: int | None = ...,
    ) -> EventStream[tuple[int, str]]: ...

    def get_job_logs(
        self,
        job_id: str,
        rank: int | None = None,
        follow: bool = False,
        tail: int | None = None,
    ) -> list[tuple[int, str]] | EventStream[tuple[int, str]]:
        """Log lines of a job, all ranks or one.

        Parameters
        ----------
        job_id : str
            The job's id.
        rank : int, optional
            Only this rank's lines.
        follow : bool
            Stream: return an iterator that yields lines as they are written and stops when the
            job has finished and every line was sent (the stream's ``event: end``).
        tail : int, optional
            Only the last ``tail`` lines (per the service's count) to start with.

        Returns
        -------
        list of (int, str) or EventStream of (int, str)
            ``(rank, line)`` pairs; the stream's ``close()`` stops following early.
        """
        params: dict[str, Any] = {}
        if rank is not None:
            params["rank"] = int(rank)
        if tail is not None:
            params["tail"] = int(tail)
        path = _job_path(job_id, "logs")
        if follow:
            return EventStream(self._open_stream(path, params), _log_item, path)
        items = self._json("GET", path, params=params).get("items", [])
        return [(int(item.get("rank", 0)), str(item.get("line", ""))) for item in items]

    def get_job_metrics(self, job_id: str, since: str | None = None) -> list[dict[str, Any]]:
        """Scalar metrics recorded by ``training_zoo.log_metrics`` in the job.

        Parameters
        ----------
        job_id : str
            The job's id.
        since : str, optional
            A cursor from :meth:`poll_job_metrics`: only points recorded after it.

        Returns
        -------
        list of dict
            ``{"rank", "seq", "step", "time", "values": {name: float or None}}`` items; ``seq``
            counts per rank.
        """
        return self.poll_job_metrics(job_id, since)[0]

    def poll_job_metrics(
        self, job_id: str, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """New metric points since ``cursor``, and the cursor to pass next time.

        Parameters
        ----------
        job_id : str
            The job's id.
        cursor : str, optional
            Opaque cursor from the previous call; None starts from the first point.

        Returns
        -------
        (list of dict, str or None)
            The points, as in :meth:`get_job_metrics`, and the next cursor.
        """
        params = {} if cursor is None else {"since": str(cursor)}
        page = self._json("GET", _job_path(job_id, "metrics"), params=params)
        return page.get("items", []), page.get("cursor", cursor)

    def iter_job_metrics(
        self, job_id: str, since: str | None = None
    ) -> EventStream[dict[str, Any]]:
        """Stream metrics as they are recorded, until the job has finished.

        Parameters
        ----------
        job_id : str
            The job's id.
        since : str, optional
            Start after this cursor (from :meth:`poll_job_metrics`).

        Returns
        -------
        EventStream of dict
            Metric items, as in :meth:`get_job_metrics`; ``close()`` stops early.
        """
        params = {} if since is None else {"since": str(since)}
        path = _job_path(job_id, "metrics")
        return EventStream(self._open_stream(path, params), ServerSentEvent.json, path)

    def wait_for_job_status(
        self,
        job_id: str,
        status: str | Iterable[str] = TERMINAL_STATUSES,
        timeout: float | None = None,
        polling_interval: float = 1.0,
    ) -> dict[str, Any]:
        """Poll a job until it reaches one of ``status``.

        Parameters
        ----------
        job_id : str
            The job's id.
        status : str or iterable of str
            Statuses to wait for; default: any final one (succeeded, failed, cancelled).
        timeout : float, optional
            Give up after this many seconds; default wait forever.
        polling_interval : float
            Seconds between polls.

        Returns
        -------
        dict
            The Job as first seen in a wanted status.

        Raises
        ------
        TimeoutError
            ``timeout`` passed first.
        TzClientError
            The job finished in a status that was not asked for (so waiting longer is useless),
            or a request failed.
        """
        wanted = {status} if isinstance(status, str) else set(status)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            current = job.get("status")
            if current in wanted:
                return job
            if current in TERMINAL_STATUSES:
                raise TzClientError(
                    f"job {job_id} ended as {current} while waiting for "
                    f"{', '.join(sorted(wanted))}"
                    + (f": {job['message']}" if job.get("message") else ""),
                    reason=job.get("reason"),
                )
            if deadline is not None and time.monotonic() + polling_interval > deadline:
                raise TimeoutError(
                    f"job {job_id} is still {current} after {timeout:g} s "
                    f"(waiting for {', '.join(sorted(wanted))})"
                )
            time.sleep(polling_interval)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask the service to stop a job (at once when queued, shortly when running).

        Parameters
        ----------
        job_id : str
            The job's id.

        Returns
        -------
        dict
            The Job as accepted for cancellation.
        """
        return self._json("POST", _job_path(job_id, "cancel"))

    def clone_job(self, job_id: str, **overrides: Any) -> dict[str, Any]:
        """Submit a copy of a job with the same snapshot, optionally changing spec fields.

        Parameters
        ----------
        job_id : str
            The job to copy.
        **overrides
            JobSpec fields to replace, e.g. ``name="lr-0.1", args=["--lr", "0.1"]``.

        Returns
        -------
        dict
            The new Job.
        """
        body = {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}
        return self._json("POST", _job_path(job_id, "clone"), json=body)

    def delete_job(self, job_id: str) -> None:
        """Delete a finished job and its logs (the service answers 409 for unfinished ones).

        Parameters
        ----------
        job_id : str
            The job's id.
        """
        self._json("DELETE", _job_path(job_id))

    # -- workspace -------------------------------------------------------------------------

    def ws_spaces(self) -> list[dict[str, Any]]:
        """The workspace spaces the caller may reach: their own, then one per team.

        Returns
        -------
        list of dict
            ``{"space": "user:alice", "kind": "user", "name": "alice"}`` items.
        """
        return self._json("GET", "workspace/spaces").get("items", [])

    def my_space(self) -> str:
        """The caller's own space, ``user:<name>``."""
        for item in self.ws_spaces():
            if item.get("kind") == "user":
                return str(item["space"])
        raise TzClientError("the service listed no user space for this token", reason="NotFound")

    def ws_list(
        self,
        space: str,
        path: str = "",
        *,
        sort: str = "name",
        order: str = "asc",
        page_size: int = _WS_PAGE_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """The items of a workspace folder, fetched page by page as they are iterated.

        Parameters
        ----------
        space : str
            ``user:<name>`` or ``team:<group>``.
        path : str
            Folder path in the space; ``""`` is its root.
        sort : {"name", "size", "modified"}
            Sort key (the service sorts; large folders are fastest by name).
        order : {"asc", "desc"}
            Sort order.
        page_size : int
            Items per request, 1 to 1000.

        Yields
        ------
        dict
            ``{"name", "path", "type": "file"|"folder", "size", "modified"}``.
        """
        params: dict[str, Any] = {
            "space": space,
            "path": path.strip("/"),
            "sort": sort,
            "order": order,
            "limit": page_size,
        }
        while True:
            page = self._json("GET", "workspace/list", params=params)
            yield from page.get("items", [])
            if not page.get("next"):
                return
            params["cursor"] = page["next"]

    def ws_stat(self, space: str, path: str) -> dict[str, Any]:
        """One workspace item (file or folder)."""
        return self._json("GET", "workspace/stat", params={"space": space, "path": path})

    def ws_mkdir(self, space: str, path: str, *, exist_ok: bool = False) -> dict[str, Any]:
        """Create a folder (and its parents).

        Parameters
        ----------
        space, path : str
            Where.
        exist_ok : bool
            Succeed when the folder exists already (else the service answers 409).

        Returns
        -------
        dict
            The folder's item.
        """
        body: dict[str, Any] = {"space": space, "path": path.strip("/")}
        if exist_ok:
            body["exist_ok"] = True
        return self._json("POST", "workspace/mkdir", json=body)

    def _transfer(
        self, action: str, space: str, path: str, target: str, overwrite: bool,
        target_space: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"space": space, "path": path, "target": target}
        if overwrite:
            body["overwrite"] = True
        if target_space and target_space != space:
            body["target_space"] = target_space
        return self._json("POST", f"workspace/{action}", json=body)

    def ws_move(
        self,
        space: str,
        path: str,
        target: str,
        *,
        overwrite: bool = False,
        target_space: str | None = None,
    ) -> dict[str, Any]:
        """Move or rename a file or folder; returns the item at ``target``.

        ``target_space`` moves into another space the caller may write (default: the same).
        """
        return self._transfer("move", space, path, target, overwrite, target_space)

    def ws_copy(
        self,
        space: str,
        path: str,
        target: str,
        *,
        overwrite: bool = False,
        target_space: str | None = None,
    ) -> dict[str, Any]:
        """Copy a file or folder; returns the item at ``target``."""
        return self._transfer("copy", space, path, target, overwrite, target_space)

    def ws_delete(self, space: str, path: str) -> None:
        """Delete a file, or a folder with everything in it (there is no undo)."""
        self._json("DELETE", "workspace/files", params={"space": space, "path": path})

    def ws_download(
        self,
        space: str,
        path: str,
        dest: str | os.PathLike[str] = ".",
        *,
        progress: Callable[[TransferProgress], None] | None = None,
        parallel: int = 4,
        skip_unchanged: bool = True,
    ) -> Path:
        """Download a workspace file or folder.

        Each file is streamed to a temporary file next to its destination and renamed once its
        length checks out, so an interrupted download never leaves a file that looks whole.
        Each downloaded file takes the workspace file's modification time, and a local file
        with the same size and modification time is not downloaded again (rsync's quick
        check): running the same download again after an interruption fetches only what is
        missing or changed. A folder the download created (``dest`` did not exist) holds a
        hidden marker until it completes, so the rerun fills that folder again rather than
        making a new one inside it.

        Parameters
        ----------
        space, path : str
            What to download.
        dest : str or os.PathLike
            A folder to download into (keeping the name), or the file or folder name to create.
        progress : callable, optional
            Called with a :class:`TransferProgress` as bytes arrive (from worker threads, one
            call at a time).
        parallel : int
            Files of a folder downloaded at a time.
        skip_unchanged : bool
            Leave local files that pass the quick check as they are (default); False downloads
            every file again.

        Returns
        -------
        pathlib.Path
            The downloaded file or folder.
        """
        return download_path(self, space, path, dest, progress=progress, parallel=parallel,
                             skip_unchanged=skip_unchanged)  # fmt: skip

    def ws_upload(
        self,
        local: str | os.PathLike[str],
        space: str,
        path: str = "",
        *,
        progress: Callable[[TransferProgress], None] | None = None,
        parallel: int = 4,
        resume: bool = True,
        overwrite: bool = False,
        part_size: int | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Upload a local file or folder into the workspace, in parts, resumably.

        A file goes through an upload session (``POST /uploads``): its parts are read from disk
        and sent ``parallel`` at a time (never the whole file in memory), each retried on
        connection errors and checked against the MD5 the service reports. With ``resume``, an
        open session for the same ``space``/``path`` and size (left by an interrupted upload) is
        picked up, and only parts that are missing or differ from the local bytes are sent.

        A folder is uploaded file by file under ``path`` (default: the folder's name), creating
        its folders first. With ``resume`` (and without ``overwrite``), files already at the
        target with the same size are skipped, so re-running an interrupted folder upload sends
        only what is left.

        Parameters
        ----------
        local : str or os.PathLike
            The file or folder.
        space : str
            ``user:<name>`` or ``team:<group>``.
        path : str
            Target path; default the local name at the space root.
        progress : callable, optional
            Called with a :class:`TransferProgress` as bytes go out.
        parallel : int
            Parts (or small files) in flight at once.
        resume : bool
            Continue an interrupted upload instead of starting again.
        overwrite : bool
            Replace existing files (else the service answers 409).
        part_size : int, optional
            Bytes per part (at least 5 MiB); default the service's (16 MiB).

        Returns
        -------
        dict or list of dict
            The file's item; for a folder, the items of the files sent.

        Raises
        ------
        FileNotFoundError
            ``local`` does not exist.
        TzClientError
            The service refused (e.g. 409 when the file exists and ``overwrite`` is false).
        """
        return upload_path(
            self, local, space, path, progress=progress, parallel=parallel, resume=resume,
            overwrite=overwrite, part_size=part_size,
        )  # fmt: skip

    def list_uploads(self) -> list[dict[str, Any]]:
        """The caller's open upload sessions (``id``, ``space``, ``path``, ``size``...)."""
        return self._json("GET", "uploads").get("items", [])

    def create_upload(
        self,
        space: str,
        path: str,
        size: int,
        *,
        part_size: int | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Open an upload session; returns ``{"id", "part_size", "parts", "received": []...}``."""
        body: dict[str, Any] = {"space": space, "path": path, "size": int(size)}
        if part_size is not None:
            body["part_size"] = int(part_size)
        if overwrite:
            body["overwrite"] = True
        return self._json("POST", "uploads", json=body)

    def upload_status(self, upload_id: str) -> dict[str, Any]:
        """A session with the parts received so far (``received``: number, size, etag)."""
        return self._json("GET", f"uploads/{quote(upload_id, safe='')}")

    def put_upload_part(
        self,
        upload_id: str,
        number: int,
        data: bytes | Iterable[bytes],
        length: int,
        crc32: str | None = None,
    ) -> dict[str, Any]:
        """Send part ``number`` (1-based) of ``length`` bytes; returns ``{number, size, etag}``.

        ``data`` may be an iterable of chunks: the part is streamed, never held whole.
        ``crc32`` (base64 of the part's 4 big-endian CRC32 bytes, see
        ``transfers.crc32_of_range``) lets the service and S3 refuse bytes changed on the way,
        and lets the service stream the part straight on to S3.
        """
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        if crc32 is not None:
            headers[CRC32_HEADER] = crc32
        return self._json(
            "PUT",
            f"uploads/{quote(upload_id, safe='')}/parts/{int(number)}",
            content=data,
            headers=headers,
        )

    def complete_upload(self, upload_id: str) -> dict[str, Any]:
        """Assemble the parts; the file appears whole at its path. Returns its item."""
        return self._json("POST", f"uploads/{quote(upload_id, safe='')}/complete")

    def abort_upload(self, upload_id: str) -> None:
        """Drop a session and its parts."""
        self._json("DELETE", f"uploads/{quote(upload_id, safe='')}")

    # -- datasets --------------------------------------------------------------------------

    def list_datasets(
        self,
        q: str | None = None,
        *,
        type: str | None = None,
        owner: str | None = None,
        visibility: str | None = None,
    ) -> list[dict[str, Any]]:
        """Datasets the caller may read, following pagination to the end.

        Parameters
        ----------
        q : str, optional
            Search text (name and description).
        type, owner, visibility : str, optional
            Filters (``image_classification``..., a user name, ``private|team|public``).

        Returns
        -------
        list of dict
            Datasets (``id``, ``name``, ``owner``, ``latest_version``, ``draft``...).
        """
        params = {
            k: v
            for k, v in {"q": q, "type": type, "owner": owner, "visibility": visibility}.items()
            if v
        }
        return list(self._paged("datasets", params))

    def create_dataset(
        self,
        name: str,
        *,
        type: str = "generic",
        description: str = "",
        visibility: str = "private",
        team: str | None = None,
        labels: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Create a dataset (an empty draft, no versions yet).

        Parameters
        ----------
        name : str
            ``[a-z0-9][a-z0-9_-]{0,62}``, unique among the caller's datasets.
        type : str
            ``image_classification``, ``object_detection``, ``text``, ``tabular`` or
            ``generic``.
        description : str
            Free text (shown as text, never as HTML).
        visibility : {"private", "team", "public"}
            Who may read it; ``team`` needs ``team``.
        team : str, optional
            One of the caller's JupyterHub groups.
        labels : sequence of str
            The label set.

        Returns
        -------
        dict
            The Dataset.
        """
        body: dict[str, Any] = {
            "name": name,
            "type": type,
            "description": description,
            "visibility": visibility,
            "labels": list(labels),
        }
        if team is not None:
            body["team"] = team
        return self._json("POST", "datasets", json=body)

    def resolve_dataset(self, ref: str) -> dict[str, Any]:
        """Resolve ``[owner/]name[:Vnnn]`` to ``{"dataset": {...}, "version": {...} or None}``.

        ``name`` alone means the caller's own dataset, else the only visible one with that
        name; without ``:V`` the version is the latest published one (``None`` if none).
        """
        return self._json("GET", "datasets/resolve", params={"ref": ref})

    def _dataset_id(self, dataset: str | Mapping[str, Any]) -> str:
        """The id of a dataset given as its dict, its id or a reference (version ignored)."""
        if isinstance(dataset, Mapping):
            return str(dataset["id"])
        if _DATASET_ID.match(dataset):
            return dataset
        return str(self.resolve_dataset(dataset.split(":", 1)[0])["dataset"]["id"])

    def _dataset_path(self, dataset: str | Mapping[str, Any], *rest: str) -> str:
        return _item_path("datasets", self._dataset_id(dataset), *rest)

    def _version_of(self, dataset: str | Mapping[str, Any], version: str | None) -> str:
        """``version``, else the one in a ``name:Vnnn`` reference, else the latest published."""
        if version:
            return version
        ref = dataset if isinstance(dataset, str) else str(dataset.get("id"))
        resolved = self.resolve_dataset(ref)
        if not resolved.get("version"):
            raise _no_published_version(ref, "version")
        return str(resolved["version"]["version"])

    def get_dataset(self, dataset: str | Mapping[str, Any]) -> dict[str, Any]:
        """One dataset, by id (``ds-…``) or reference (``[owner/]name``)."""
        return self._json("GET", self._dataset_path(dataset))

    def update_dataset(self, dataset: str | Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        """Change ``description``, ``visibility``, ``team`` or ``labels``; returns the Dataset."""
        return self._json("PATCH", self._dataset_path(dataset), json=fields)

    def delete_dataset(self, dataset: str | Mapping[str, Any]) -> None:
        """Delete a dataset with its draft and versions."""
        self._json("DELETE", self._dataset_path(dataset))

    def dataset_files(
        self,
        dataset: str | Mapping[str, Any],
        *,
        version: str | None = None,
        q: str | None = None,
        usage: str | None = None,
        labeled: bool | None = None,
    ) -> Iterator[dict[str, Any]]:
        """File entries of the draft (default) or of a published ``version``, page by page."""
        params: dict[str, Any] = {}
        if q:
            params["q"] = q
        if version is None:
            if usage:
                params["usage"] = usage
            if labeled is not None:
                params["labeled"] = "true" if labeled else "false"
            return self._paged(self._dataset_path(dataset, "files"), params)
        return self._paged(self._dataset_path(dataset, "versions", version, "files"), params)

    def add_dataset_files(
        self,
        dataset: str | Mapping[str, Any],
        space: str | None = None,
        path: str | None = None,
        *,
        uri: str | None = None,
        prefix: str | None = None,
    ) -> dict[str, Any]:
        """Add a workspace file or folder (recursively), or an S3 prefix, to the draft.

        Parameters
        ----------
        dataset : str or dict
            Id, reference or Dataset.
        space, path : str
            The workspace file or folder (give these, or ``uri``).
        uri : str
            ``s3://bucket/prefix`` in the platform's store: referenced, not copied.
        prefix : str, optional
            Folder inside the dataset to put the files under.

        Returns
        -------
        dict
            ``{"added", "bytes", "files", "skipped"}``.
        """
        if (uri is None) == (space is None or path is None):
            raise ValueError("pass either space and path (workspace) or uri (s3://...)")
        body: dict[str, Any] = (
            {"source": "s3", "uri": uri}
            if uri is not None
            else {"source": "workspace", "space": space, "path": path}
        )
        if prefix:
            body["prefix"] = prefix
        return self._json("POST", self._dataset_path(dataset, "files"), json=body)

    def remove_dataset_files(self, dataset: str | Mapping[str, Any], keys: Sequence[str]) -> None:
        """Remove files from the draft."""
        self._json("DELETE", self._dataset_path(dataset, "files"), json={"keys": list(keys)})

    def annotate(
        self,
        dataset: str | Mapping[str, Any],
        key: str,
        *,
        labels: Sequence[str] | None = None,
        boxes: Sequence[Mapping[str, Any]] | None = None,
        usage: str | None = None,
        revision: int | None = None,
    ) -> dict[str, Any]:
        """Set a draft file's annotations (and optionally its split).

        Parameters
        ----------
        dataset : str or dict
            Id, reference or Dataset.
        key : str
            The file's key in the dataset.
        labels : sequence of str, optional
            Labels (classification uses the first). Omitted: kept as they are.
        boxes : sequence of dict, optional
            ``{"label", "x", "y", "w", "h"}`` in pixels, x/y the top-left corner. Omitted:
            kept as they are.
        usage : {"train", "val", "test"}, optional
            The split.
        revision : int, optional
            The revision the change is based on; default the file's current one. Someone else
            saving in between makes the service answer 409 ``StaleRevision`` (with the current
            file in ``errors``) instead of overwriting their work.

        Returns
        -------
        dict
            The updated file entry.
        """
        current: dict[str, Any] | None = None
        if revision is None or labels is None or boxes is None:
            current = self._draft_file(dataset, key)
        annotations = dict((current or {}).get("annotations") or {})
        if labels is not None:
            annotations["labels"] = list(labels)
        if boxes is not None:
            annotations["boxes"] = [dict(b) for b in boxes]
        body: dict[str, Any] = {
            "key": key,
            "revision": revision if revision is not None else (current or {}).get("revision"),
            "annotations": annotations,
        }
        if usage is not None:
            body["usage"] = usage
        return self._json("POST", self._dataset_path(dataset, "files", "annotations"), json=body)

    def _draft_file(self, dataset: str | Mapping[str, Any], key: str) -> dict[str, Any]:
        for entry in self.dataset_files(dataset, q=key):
            if entry.get("key") == key:
                return entry
        raise TzClientError(
            f"key: {key!r} is not in the dataset's draft",
            status=404,
            reason="NotFound",
            errors={"key": "not in the draft"},
        )

    def publish_dataset(
        self, dataset: str | Mapping[str, Any], note: str | None = None
    ) -> dict[str, Any]:
        """Freeze the draft as the next version (``V001``, ``V002``...); returns the version."""
        body = {"note": note} if note else {}
        return self._json("POST", self._dataset_path(dataset, "publish"), json=body)

    def dataset_versions(self, dataset: str | Mapping[str, Any]) -> list[dict[str, Any]]:
        """Published versions, newest first."""
        return self._json("GET", self._dataset_path(dataset, "versions")).get("items", [])

    def get_dataset_version(
        self, dataset: str | Mapping[str, Any], version: str | None = None
    ) -> dict[str, Any]:
        """One version with its statistics (default: the reference's, else the latest)."""
        version = self._version_of(dataset, version or _ref_version(dataset))
        return self._json("GET", self._dataset_path(dataset, "versions", version))

    def dataset_manifest(
        self, dataset: str | Mapping[str, Any], version: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The entries of a version's manifest, streamed (one JSON object per line).

        Parameters
        ----------
        dataset : str or dict
            Id, reference (``name:V002`` picks the version) or Dataset.
        version : str, optional
            ``Vnnn``; default the reference's, else the latest published.

        Yields
        ------
        dict
            ``{"key", "size", "sha256", "usage", "annotations", "source"}``, sorted by key.
        """
        version = self._version_of(dataset, version or _ref_version(dataset))
        path = self._dataset_path(dataset, "versions", version, "manifest")
        timeout = httpx.Timeout(self.timeout, read=max(self.timeout, _STREAM_READ_TIMEOUT))
        with self._stream("GET", path, timeout=timeout) as response:
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def diff_versions(
        self, dataset: str | Mapping[str, Any], version: str, against: str
    ) -> dict[str, Any]:
        """What changed from ``against`` to ``version``: ``added``, ``removed``, ``relabeled``."""
        return self._json(
            "GET",
            self._dataset_path(dataset, "versions", version, "diff"),
            params={"against": against},
        )

    def export_dataset(
        self,
        dataset: str | Mapping[str, Any],
        format: str,
        space: str,
        path: str,
        *,
        version: str | None = None,
    ) -> dict[str, Any]:
        """Write a version (default: the draft) as ``coco``, ``imagenet`` or ``manifest`` into
        the workspace; returns the written item."""
        body: dict[str, Any] = {"format": format, "space": space, "path": path}
        version = version or _ref_version(dataset)
        if version:
            body["version"] = version
        return self._json("POST", self._dataset_path(dataset, "export"), json=body)

    def import_annotations(
        self, dataset: str | Mapping[str, Any], format: str, space: str, path: str
    ) -> dict[str, Any]:
        """Read ``coco``, ``imagenet`` or ``manifest`` annotations from the workspace into the
        draft (for ImageNet-style trees, the files too)."""
        body = {"format": format, "space": space, "path": path}
        return self._json("POST", self._dataset_path(dataset, "import"), json=body)

    def download_dataset_file(
        self,
        dataset: str | Mapping[str, Any],
        key: str,
        dest: str | os.PathLike[str],
        *,
        version: str | None = None,
        sha256: str | None = None,
    ) -> Path:
        """Download one file of the draft or of a ``version`` to ``dest`` (checked against
        ``sha256`` when given)."""
        params: dict[str, Any] = {"key": key}
        if version:
            params["version"] = version
        return download_to(
            self, self._dataset_path(dataset, "files", "content"), params, Path(dest),
            label=key, sha256=sha256,
        )  # fmt: skip

    def open_dataset(
        self, ref: str, *, cache_dir: str | os.PathLike[str] | None = None
    ) -> OpenedDataset:
        """A published version's files, annotations and splits, downloaded on demand.

        Parameters
        ----------
        ref : str
            ``[owner/]name[:Vnnn]``; without a version, the latest published one.
        cache_dir : str or os.PathLike, optional
            Where file bytes are kept (by sha256, shared between versions and datasets).
            Default ``$TZ_DATASET_CACHE``, else ``~/.cache/training-zoo/datasets``.

        Returns
        -------
        OpenedDataset
        """
        resolved = self.resolve_dataset(ref)
        dataset, version = resolved["dataset"], resolved.get("version")
        if not version:
            raise _no_published_version(ref, "ref")
        entries = list(self.dataset_manifest(dataset, version["version"]))
        return OpenedDataset(self, dataset, version, entries, _cache_root(cache_dir))

    # -- models ----------------------------------------------------------------------------

    def list_models(
        self,
        q: str | None = None,
        *,
        task: str | None = None,
        stage: str | None = None,
        owner: str | None = None,
        visibility: str | None = None,
    ) -> list[dict[str, Any]]:
        """Models the caller may read, following pagination to the end.

        Parameters
        ----------
        q : str, optional
            Search text (name and description).
        task : str, optional
            ``image_classification``, ``object_detection``, ``text_classification``,
            ``tabular_classification``, ``regression`` or ``generic``.
        stage : str, optional
            Only models with a version in this stage (``none``, ``staging``, ``production``,
            ``archived``).
        owner, visibility : str, optional
            A user name; ``private``, ``team`` or ``public``.

        Returns
        -------
        list of dict
            Models (``id``, ``name``, ``owner``, ``latest_version``, ``production_version``...).

        Raises
        ------
        ValueError
            ``stage`` is not one of :data:`MODEL_STAGES`.
        TzClientError
            The service refused (e.g. an unknown ``task``).
        """
        if stage is not None and stage not in MODEL_STAGES:
            raise ValueError(f"stage: must be one of {', '.join(MODEL_STAGES)}, got {stage!r}")
        filters = {"q": q, "task": task, "stage": stage, "owner": owner, "visibility": visibility}
        return list(self._paged("models", {k: v for k, v in filters.items() if v}))

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        task: str | None = None,
        visibility: str = "private",
        team: str | None = None,
    ) -> dict[str, Any]:
        """Create an empty model (versions come from :meth:`register_model`).

        Parameters
        ----------
        name : str
            ``[a-z0-9][a-z0-9_-]{0,62}``, unique among the caller's models.
        description : str
            Free text (shown as text, never as HTML).
        task : str, optional
            One of the tasks of :meth:`list_models`; the service's default when omitted.
        visibility : {"private", "team", "public"}
            Who may read it; ``team`` needs ``team``.
        team : str, optional
            One of the caller's JupyterHub groups.

        Returns
        -------
        dict
            The Model.

        Raises
        ------
        ValueError
            ``name`` is not a valid model name.
        TzClientError
            The service refused (409 when the name is taken).
        """
        _check_model_name(name)
        body: dict[str, Any] = {"name": name, "description": description, "visibility": visibility}
        if task is not None:
            body["task"] = task
        if team is not None:
            body["team"] = team
        return self._json("POST", "models", json=body)

    def resolve_model(self, ref: str) -> dict[str, Any]:
        """Resolve ``[owner/]name[:N]`` (or ``mdl-…[:N]``) to ``{"model", "version"}``.

        ``name`` alone means the caller's own model, else the only visible one with that name;
        without ``:N`` the version is the latest.

        Raises
        ------
        ValueError
            ``ref`` is malformed.
        TzClientError
            No such model or version, or none yet (404); the name is ambiguous (400, the
            message lists ``owner/name`` candidates).
        """
        parse_model_ref(ref)
        return self._json("GET", "models/resolve", params={"ref": ref})

    def _model_id(self, model: ModelRef) -> str:
        """The id of a model given as a Model/Version/Run dict, an id or a reference."""
        if isinstance(model, Mapping):
            # Versions and runs name their model in model_id; a Model's own id is id.
            return str(model.get("model_id") or model["id"])
        owner, name, _ = parse_model_ref(model)
        if owner is None and _MODEL_ID.match(name):
            return name
        return str(self.resolve_model(f"{owner}/{name}" if owner else name)["model"]["id"])

    def _model_path(self, model: ModelRef, *rest: str) -> str:
        return _item_path("models", self._model_id(model), *rest)

    def _model_version(self, ref: ModelRef, version: int | str | None = None) -> tuple[str, int]:
        """``(model id, version number)``: ``version``, else the ref's ``:N``, else the latest.

        Raises
        ------
        ValueError
            ``ref`` is malformed, or names another version than ``version``.
        TzClientError
            No such model, or it has no version yet (``NoVersion``).
        """
        wanted = None if version is None else _version_number(version)
        if isinstance(ref, Mapping):
            if "model_id" in ref:
                model_id, number = str(ref["model_id"]), wanted or ref.get("version")
            else:
                model_id, number = str(ref["id"]), wanted or ref.get("latest_version")
            if number is None:
                raise _no_version(model_id)
            return model_id, int(number)
        owner, name, number = parse_model_ref(ref)
        if wanted is not None and number is not None and wanted != number:
            raise ValueError(f"version: {ref!r} names version {number}, not {wanted}")
        number = number or wanted
        if owner is None and _MODEL_ID.match(name) and number is not None:
            return name, number
        base = f"{owner}/{name}" if owner else name
        resolved = self.resolve_model(f"{base}:{number}" if number else base)
        if not resolved.get("version"):
            raise _no_version(base)
        return str(resolved["model"]["id"]), int(resolved["version"]["version"])

    def _version_path(self, ref: ModelRef, version: int | str | None, *rest: str) -> str:
        model_id, number = self._model_version(ref, version)
        return _item_path("models", model_id, "versions", str(number), *rest)

    def get_model(self, model: ModelRef) -> dict[str, Any]:
        """One model, by id (``mdl-…``), reference (``[owner/]name``; a ``:N`` is ignored) or
        dict."""
        return self._json("GET", self._model_path(model))

    def update_model(self, model: ModelRef, **fields: Any) -> dict[str, Any]:
        """Change ``description``, ``task``, ``visibility`` or ``team``; returns the Model."""
        return self._json("PATCH", self._model_path(model), json=fields)

    def delete_model(self, model: ModelRef) -> None:
        """Delete a model with all its versions (owner or admin; refused while one is in
        production).

        Raises
        ------
        ValueError
            ``model`` is a reference with ``:N``: deleting a whole model by naming one version is
            too easy a mistake, so use :meth:`delete_model_version` or drop the ``:N``.
        TzClientError
            409 while a version is in production; 404 for a model you cannot see.
        """
        if isinstance(model, str) and parse_model_ref(model)[2] is not None:
            raise ValueError(
                f"ref: {model!r} names one version, but delete_model deletes the whole model: "
                "use delete_model_version for one version, or the ref without ':N'"
            )
        self._json("DELETE", self._model_path(model))

    def list_model_versions(self, model: ModelRef) -> list[dict[str, Any]]:
        """A model's versions, newest first (all pages)."""
        return list(self._paged(self._model_path(model, "versions")))

    def get_model_version(self, ref: ModelRef, version: int | str | None = None) -> dict[str, Any]:
        """One version: ``version``, else the ref's ``:N``, else the latest.

        Parameters
        ----------
        ref : str or dict
            ``[owner/]name[:N]``, ``mdl-…[:N]``, a Model or a Version.
        version : int, optional
            The version number.

        Returns
        -------
        dict
            The Version (``ref``, ``format``, ``signature``, ``metrics``, ``stage``,
            ``lineage``, ``evaluations``...).
        """
        return self._json("GET", self._version_path(ref, version))

    def update_model_version(
        self, ref: ModelRef, version: int | str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Change a version's ``description``, ``card``, ``tags`` or ``metrics``; returns it."""
        return self._json("PATCH", self._version_path(ref, version), json=fields)

    def delete_model_version(self, ref: ModelRef, version: int | str | None = None) -> None:
        """Delete one version (not while it is in production).

        Raises
        ------
        ValueError
            No version is named (``name:N``, ``version=`` or a Version dict): the latest is never
            deleted by default.
        """
        explicit = version is not None or (
            parse_model_ref(ref)[2] is not None
            if isinstance(ref, str)
            else "model_id" in ref and ref.get("version") is not None
        )
        if not explicit:
            raise ValueError(
                f"version: say which version of {_ref_text(ref)} to delete (name:N or version=N)"
            )
        self._json("DELETE", self._version_path(ref, version))

    def model_files(self, ref: ModelRef, version: int | str | None = None) -> list[dict[str, Any]]:
        """A version's files: ``{"path", "size", "sha256"}`` items."""
        return self._json("GET", self._version_path(ref, version, "files")).get("items", [])

    def download_model(
        self,
        ref: ModelRef,
        dest: str | os.PathLike[str],
        *,
        version: int | str | None = None,
        progress: Callable[[TransferProgress], None] | None = None,
        parallel: int = 4,
    ) -> Path:
        """Download a version's files into the folder ``dest``, each checked against its sha256.

        Files already in ``dest`` with the right size and sha256 are kept (versions are
        immutable), so downloading again, or into a cache, only fetches what is missing. Each
        file is streamed to a temporary file and renamed once complete and verified.

        Parameters
        ----------
        ref : str or dict
            The version (``[owner/]name[:N]``; no ``:N``: the latest).
        dest : str or os.PathLike
            The folder to fill (created).
        version : int, optional
            The version number.
        progress : callable, optional
            Called with a :class:`TransferProgress` as bytes arrive.
        parallel : int
            Files downloaded at a time.

        Returns
        -------
        pathlib.Path
            ``dest``.

        Raises
        ------
        TzClientError
            A request failed, or a file's bytes do not match its sha256 (``ChecksumMismatch``)
            even after retrying.
        ValueError
            The service listed a path that would leave ``dest``.
        """
        from concurrent.futures import ThreadPoolExecutor

        from .transfers import _safe_local, _Tracker

        files_path = self._version_path(ref, version, "files")
        files = self._json("GET", files_path).get("items", [])
        root = Path(dest).expanduser()
        # Every target is checked before anything is written: one bad path refuses the lot.
        targets = [(entry, _safe_local(root, str(entry["path"]))) for entry in files]
        tracker = _Tracker(progress, sum(int(e.get("size") or 0) for e in files), len(files))
        root.mkdir(parents=True, exist_ok=True)

        def one(item: tuple[dict[str, Any], Path]) -> None:
            entry, local = item
            size, sha256 = int(entry.get("size") or 0), entry.get("sha256") or None
            if sha256 and _file_matches(local, size, sha256):
                tracker.update(path=entry["path"], done=size, files_done=1, skipped=1)
                return
            download_to(
                self, f"{files_path}/{quote(str(entry['path']), safe='/')}", {}, local,
                tracker=tracker, label=str(entry["path"]), sha256=sha256,
            )  # fmt: skip
            tracker.update(files_done=1)

        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="tz-model") as pool:
            for future in [pool.submit(one, t) for t in targets]:
                future.result()
        return root

    def set_model_stage(
        self,
        ref: ModelRef,
        stage: str,
        comment: str | None = None,
        *,
        version: int | str | None = None,
    ) -> dict[str, Any]:
        """Move a version to ``stage`` (one production version per model: promoting another
        archives the old one; every move is recorded in :meth:`model_history`).

        Parameters
        ----------
        ref : str or dict
            The version (no ``:N``: the latest).
        stage : {"none", "staging", "production", "archived"}
            The new stage.
        comment : str, optional
            Why, for the history.
        version : int, optional
            The version number.

        Returns
        -------
        dict
            The Version in its new stage.

        Raises
        ------
        ValueError
            ``stage`` is not one of :data:`MODEL_STAGES`.
        TzClientError
            The service refused (e.g. not the owner).
        """
        if stage not in MODEL_STAGES:
            raise ValueError(f"stage: must be one of {', '.join(MODEL_STAGES)}, got {stage!r}")
        body: dict[str, Any] = {"stage": stage}
        if comment:
            body["comment"] = comment
        return self._json("POST", self._version_path(ref, version, "stage"), json=body)

    def model_history(self, model: ModelRef) -> list[dict[str, Any]]:
        """Stage moves of a model's versions: ``{"version", "from", "to", "by", "time",
        "comment"}`` items."""
        return self._json("GET", self._model_path(model, "history")).get("items", [])

    def model_lineage(self, ref: ModelRef, version: int | str | None = None) -> dict[str, Any]:
        """Where a version came from and what was made of it.

        Returns
        -------
        dict
            ``{"nodes": [{"id", "kind", "label", "ref"}], "edges": [{"from", "to", "kind"}]}``
            with node kinds ``dataset``, ``job``, ``version``, ``evaluation`` and edge kinds
            ``trained_on``, ``produced``, ``converted``, ``evaluated``, ``evaluated_on``.
        """
        return self._json("GET", self._version_path(ref, version, "lineage"))

    def convert_model(
        self,
        ref: ModelRef,
        to: str,
        *,
        version: int | str | None = None,
        opset: int | None = None,
        tolerance_abs: float | None = None,
        tolerance_rel: float | None = None,
        samples: int | None = None,
        dataset: str | None = None,
        split: str | None = None,
        **opts: Any,
    ) -> dict[str, Any]:
        """Start a conversion run (a tracked job); its result is a new version of the model.

        Parameters
        ----------
        ref : str or dict
            The source version (no ``:N``: the latest).
        to : {"onnx", "torchscript", "int8", "fp16"}
            The target.
        version : int, optional
            The source version number.
        opset : int, optional
            ONNX opset (default the worker's, 17).
        tolerance_abs, tolerance_rel : float, optional
            Parity tolerance between source and converted outputs; the run fails loudly beyond
            it.
        samples : int, optional
            Inputs compared for parity.
        dataset, split : str, optional
            Take the parity inputs from this dataset version (and split) instead of random ones.
        **opts
            Further body fields, sent as they are.

        Returns
        -------
        dict
            The Run (``id``, ``status``, ``job_id``); follow it with
            :meth:`wait_for_model_run`.

        Raises
        ------
        ValueError
            ``to`` is not one of :data:`CONVERSION_TARGETS`.
        TzClientError
            The service refused (e.g. a conversion the source format does not allow).
        """
        if to not in CONVERSION_TARGETS:
            raise ValueError(f"to: must be one of {', '.join(CONVERSION_TARGETS)}, got {to!r}")
        body: dict[str, Any] = {"to": to}
        tolerance = {k: v for k, v in (("abs", tolerance_abs), ("rel", tolerance_rel))
                     if v is not None}  # fmt: skip
        if tolerance:
            body["tolerance"] = tolerance
        extra = {"opset": opset, "samples": samples, "dataset": dataset, "split": split}
        return self._start_run(ref, version, "convert", body, {**extra, **opts})

    def evaluate_model(
        self,
        ref: ModelRef,
        dataset: str,
        *,
        version: int | str | None = None,
        split: str | None = None,
        task: str | None = None,
        batch_size: int | None = None,
        target: str | None = None,
        script: str | os.PathLike[str] | None = None,
        snapshot: str | None = None,
        working_dir: str | os.PathLike[str] = ".",
        **opts: Any,
    ) -> dict[str, Any]:
        """Start an evaluation run (a tracked job): metrics on a dataset version, and speed.

        Parameters
        ----------
        ref : str or dict
            The version (no ``:N``: the latest).
        dataset : str
            ``[owner/]name[:Vnnn]``.
        version : int, optional
            The version number.
        split : str, optional
            ``train``, ``val`` or ``test`` (the worker's default: ``test``; all files when the
            split is empty).
        task : str, optional
            ``image_classification``, ``tabular_classification``, ``regression`` or ``custom``
            (default: the model's task).
        batch_size : int, optional
            Batch size of the speed measurement.
        target : str, optional
            The target column of tabular data.
        script : str or os.PathLike, optional
            A custom evaluation script defining ``evaluate(model_path, dataset_path) -> dict``.
            Without ``snapshot``, ``working_dir`` is uploaded as the job's code and the script
            is sent relative to it (it must lie inside); with ``snapshot``, ``script`` is a path
            inside that snapshot.
        snapshot : str, optional
            A snapshot id from :meth:`upload_snapshot`.
        working_dir : str or os.PathLike
            The folder uploaded for ``script`` (default the current one).
        **opts
            Further body fields, sent as they are.

        Returns
        -------
        dict
            The Run; follow it with :meth:`wait_for_model_run`.

        Raises
        ------
        FileNotFoundError
            ``script`` is not a local file (without ``snapshot``).
        ValueError
            ``script`` lies outside ``working_dir``, or the folder is too large.
        TzClientError
            The service refused.
        """
        body: dict[str, Any] = {"dataset": dataset}
        if script is not None and snapshot is None:
            body["script"], body["snapshot"] = self._script_snapshot(script, working_dir)
        elif script is not None:
            body["script"], body["snapshot"] = str(script), snapshot
        extra = {"split": split, "task": task, "batch_size": batch_size, "target": target}
        return self._start_run(ref, version, "evaluate", body, {**extra, **opts})

    def _start_run(
        self,
        ref: ModelRef,
        version: int | str | None,
        action: str,
        body: dict[str, Any],
        fields: Mapping[str, Any],
    ) -> dict[str, Any]:
        """POST a ``convert`` or ``evaluate`` run: ``body`` and the ``fields`` that are set."""
        body.update({k: v for k, v in fields.items() if v is not None})
        return self._json("POST", self._version_path(ref, version, action), json=body)

    def _script_snapshot(
        self, script: str | os.PathLike[str], working_dir: str | os.PathLike[str]
    ) -> tuple[str, str]:
        """Upload ``working_dir``; the script's path inside it and the snapshot id."""
        script_path = Path(script).expanduser().resolve()
        if not script_path.is_file():
            raise FileNotFoundError(f"script {str(script)!r} not found")
        workdir = Path(working_dir).expanduser().resolve()
        if not script_path.is_relative_to(workdir):
            raise ValueError(
                f"script {str(script)!r} is outside the working directory {str(workdir)!r}; "
                "the evaluation job only sees files inside it"
            )
        snapshot = self.upload_snapshot(workdir)
        return script_path.relative_to(workdir).as_posix(), str(snapshot["id"])

    def list_model_runs(self, model: ModelRef, kind: str | None = None) -> list[dict[str, Any]]:
        """A model's conversion and evaluation runs, newest first (``kind``: ``convert`` or
        ``evaluate``)."""
        params = {"kind": kind} if kind else {}
        return list(self._paged(self._model_path(model, "runs"), params))

    def get_model_run(self, run_id: str | Mapping[str, Any]) -> dict[str, Any]:
        """One run (``run-…``): ``status``, ``message``, ``result_version``, ``metrics``..."""
        return self._json("GET", _item_path("models/runs", _run_id(run_id)))

    def wait_for_model_run(
        self,
        run_id: str | Mapping[str, Any],
        timeout: float | None = None,
        *,
        polling_interval: float = 1.0,
        max_interval: float = 10.0,
        raise_on_failure: bool = True,
        callback: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll a conversion or evaluation run until it has finished.

        Polls start every ``polling_interval`` seconds and back off (x1.5) to ``max_interval``:
        a conversion takes seconds to minutes, an evaluation on a large dataset longer.

        Parameters
        ----------
        run_id : str or dict
            The run's id, or the Run.
        timeout : float, optional
            Give up after this many seconds; default wait forever.
        polling_interval, max_interval : float
            First and longest pause between polls.
        raise_on_failure : bool
            Raise when the run failed or was cancelled (else return it).
        callback : callable, optional
            Called with the Run after each poll (progress output).

        Returns
        -------
        dict
            The finished Run.

        Raises
        ------
        TzClientError
            The run failed or was cancelled (with ``raise_on_failure``; the message is the
            run's, e.g. the parity check's measured and allowed differences), or a request
            failed.
        TimeoutError
            ``timeout`` passed first.
        """
        run_id = _run_id(run_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = polling_interval
        while True:
            run = self.get_model_run(run_id)
            if callback is not None:
                callback(run)
            status = run.get("status")
            if status in TERMINAL_STATUSES:
                if status != "succeeded" and raise_on_failure:
                    raise TzClientError(
                        run_status_line(run),
                        reason="RunFailed" if status == "failed" else "RunCancelled",
                    )
                return run
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"run {run_id} is still {status} after {timeout:g} s")
                time.sleep(min(delay, remaining))
            else:
                time.sleep(delay)
            delay = min(delay * 1.5, max(max_interval, polling_interval))

    def _compare_params(
        self,
        refs: str | ModelRef | Iterable[ModelRef],
        dataset: str | None,
        fmt: str,
    ) -> dict[str, Any]:
        if isinstance(refs, str):
            items: list[ModelRef] = [r.strip() for r in refs.split(",") if r.strip()]
        elif isinstance(refs, Mapping):
            items = [refs]
        else:
            items = list(refs)
        if not items:
            raise ValueError("refs: give the model versions to compare, e.g. ['m:1', 'm:2']")
        # The service resolves references itself (the caller's own model first, no :N the
        # latest); dicts are sent as model_id:version.
        versions: list[str] = []
        for ref in items:
            if isinstance(ref, Mapping):
                versions.append(":".join(map(str, self._model_version(ref))))
            else:
                parse_model_ref(ref)  # malformed (or comma-carrying) refs fail here
                versions.append(ref)
        params: dict[str, Any] = {"versions": ",".join(versions), "format": fmt}
        if dataset:
            params["dataset"] = dataset
        return params

    def compare_models(
        self,
        refs: str | ModelRef | Iterable[ModelRef],
        dataset: str | None = None,
    ) -> dict[str, Any]:
        """Compare versions side by side: their evaluations' metrics, speed, size and format.

        Parameters
        ----------
        refs : sequence of str or dict, or str
            The versions (``name:N``, ``owner/name:N``, Version dicts, or one comma-separated
            string); the first is the baseline.
        dataset : str, optional
            Only evaluations on this dataset version (default: each version's latest).

        Returns
        -------
        dict
            ``{"baseline", "dataset", "columns", "rows": [{"ref", "format", "runtime",
            "size_bytes", "metrics", "speed", "accuracy_delta", "latency_ratio",
            "size_ratio"...}]}``.

        Raises
        ------
        ValueError
            No version given, or a malformed reference.
        TzClientError
            A version cannot be found, or the service refused.
        """
        return self._json(
            "GET", "models/compare", params=self._compare_params(refs, dataset, "json")
        )

    def compare_models_csv(
        self,
        refs: str | ModelRef | Iterable[ModelRef],
        dataset: str | None = None,
    ) -> str:
        """The comparison of :meth:`compare_models` as CSV text, written by the service (one
        row per version: ref, format, runtime, size_bytes, every column, the deltas).

        Raises
        ------
        ValueError
            No version given, or a malformed reference.
        TzClientError
            A version cannot be found, or the service refused.
        """
        params = self._compare_params(refs, dataset, "csv")
        response = self._request(
            "GET", "models/compare", params=params, headers={"Accept": "text/csv"}
        )
        return response.text

    def register_model(
        self,
        name: str | None,
        uri: str | os.PathLike[str] | None = None,
        *,
        source: Mapping[str, Any] | None = None,
        version: str | None = None,
        model_format_name: str | None = None,
        model_format_version: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: Callable[[TransferProgress], None] | None = None,
        parallel: int = 4,
        **fields: Any,
    ) -> dict[str, Any]:
        """Register a new version of a model, creating the model when it is missing (Kubeflow
        Model Registry's ``register_model``).

        The version's files are copied by the service and never change afterwards. Local files
        are first uploaded (in parts, retried) into a fresh folder under
        ``tz-staging/models/`` in your own workspace; that folder is deleted afterwards, also
        when registering fails.

        Parameters
        ----------
        name : str or None
            The model's name (``[a-z0-9][a-z0-9_-]{0,62}``). ``None`` leaves it to the source's
            ``tz-model.json``.
        uri : str or os.PathLike, optional
            Where the files are (see :func:`model_source`): a local file or folder,
            ``job://<job id>[/<path>]`` (a finished job's output, default folder ``model``),
            ``user:<name>/<path>``, ``team:<group>/<path>`` or ``workspace://<space>/<path>``.
        source : dict, optional
            The service's source object instead of ``uri``: ``{"job", "path"}`` or
            ``{"space", "path"}``.
        version : str, optional
            A display name of the version (``version_name``); versions are numbered anyway.
        model_format_name, model_format_version : str, optional
            Kubeflow's format fields (``onnx``, ``pytorch``...).
        description : str, optional
            Of the model when it is created, and of the version.
        metadata : dict, optional
            Free-form metadata (Kubeflow's ``metadata``).
        progress : callable, optional
            Upload progress of local files, as for :meth:`ws_upload`.
        parallel : int
            Parts or files in flight while uploading.
        **fields
            Model fields (``task``, ``visibility``, ``team``) and version fields that override
            the folder's ``tz-model.json``: ``format``, ``framework``, ``framework_version``,
            ``artifact``, ``signature``, ``metrics``, ``parameters``, ``tags``, ``card``,
            ``labels``, ``preprocess``, ``builder``.

        Returns
        -------
        dict
            The new Version (``ref`` is ``owner/name:N``).

        Raises
        ------
        ValueError
            Neither or both of ``uri`` and ``source``; an invalid name; a ``uri`` the service
            cannot take (``s3://``, ``http://``); local files without ``tz-model.json`` and
            without ``format``.
        FileNotFoundError
            A local ``uri`` that does not exist.
        TzClientError
            The service refused (e.g. ``signature.inputs[0].dtype: must be one of ...``).
        """
        if (uri is None) == (source is None):
            raise ValueError("pass exactly one of uri (where the files are) or source (a dict)")
        if name is not None:
            _check_model_name(name)
        given = {
            "name": name,
            "version_name": version,
            "model_format_name": model_format_name,
            "model_format_version": model_format_version,
            "description": description,
            "metadata": dict(metadata) if metadata is not None else None,
            **fields,
        }
        body = {k: v for k, v in given.items() if v is not None}
        where = dict(source) if source is not None else model_source(uri)  # type: ignore[arg-type]
        if isinstance(where, Path):
            return self._register_local(where, body, progress=progress, parallel=parallel)
        return self._json("POST", "models/register", json={**body, "source": where})

    def _register_local(
        self,
        local: Path,
        body: dict[str, Any],
        *,
        progress: Callable[[TransferProgress], None] | None,
        parallel: int,
    ) -> dict[str, Any]:
        """Stage a local file or folder in the caller's workspace, register it, clean up."""
        local = local.expanduser()
        if not local.exists():
            raise FileNotFoundError(
                f"uri: {str(local)!r} is no local file or folder (a job's output is "
                "job://<job id>/model, a workspace folder user:<name>/<path>)"
            )
        if local.is_file():
            body.setdefault("artifact", local.name)
            if local.suffix.lower() == ".onnx":
                body.setdefault("format", "onnx")
        described = local.is_dir() and (local / DESCRIPTOR_NAME).is_file()
        if not described and not (body.get("format") or body.get("model_format_name")):
            # Checked before uploading: the service would refuse only after the upload.
            raise ValueError(
                f"format: {str(local)!r} has no {DESCRIPTOR_NAME}; say what it holds with "
                f"format= (one of {', '.join(MODEL_FORMATS)})"
            )
        space = self.my_space()
        staging = f"{MODEL_STAGING}/{secrets.token_hex(8)}"
        target = f"{staging}/{local.name}" if local.is_file() else staging
        try:
            # A fresh folder each time: nothing to resume, so no session lookup.
            self.ws_upload(local, space, target, progress=progress, parallel=parallel,
                           resume=False)  # fmt: skip
            source = {"space": space, "path": staging}
            return self._json("POST", "models/register", json={**body, "source": source})
        finally:
            try:
                self.ws_delete(space, staging)
            except TzClientError as exc:
                if exc.status != 404:
                    # Not worth failing a registration over, nor hiding its own error.
                    warnings.warn(
                        f"could not delete the staging folder {space}/{staging}: {exc}",
                        stacklevel=3,
                    )


def _ref_version(dataset: str | Mapping[str, Any]) -> str | None:
    if isinstance(dataset, str) and ":" in dataset:
        version = dataset.rsplit(":", 1)[1]
        if not _VERSION.match(version):
            raise ValueError(f"ref: {dataset!r} has no valid version after ':' (e.g. name:V001)")
        return version
    return None


def _no_published_version(ref: str, field: str) -> TzClientError:
    return TzClientError(
        f"dataset {ref}: has no published version yet (publish it first)",
        status=404,
        reason="NoVersion",
        errors={field: "no published version"},
    )


def _cache_root(
    cache_dir: str | os.PathLike[str] | None,
    env: str = "TZ_DATASET_CACHE",
    kind: str = "datasets",
) -> Path:
    """``cache_dir``, else ``$<env>``, else ``~/.cache/training-zoo/<kind>``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    value = os.environ.get(env)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "training-zoo" / kind


# -- models: references and sources ------------------------------------------------------------

#: A model or version as the models methods take it: a reference string or an API dict.
ModelRef = str | Mapping[str, Any]

_MODEL_ID = re.compile(r"^mdl-[0-9a-f]{12}$")
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_DIGITS = re.compile(r"^[0-9]+$")
_SPACE = re.compile(r"^(user|team):[^/]+$")

#: Stages of a model version (one ``production`` version per model).
MODEL_STAGES: tuple[str, ...] = ("none", "staging", "production", "archived")
#: Formats a version may have.
MODEL_FORMATS: tuple[str, ...] = (
    "pytorch-state-dict", "torchscript", "onnx", "tensorflow-savedmodel", "custom",
)  # fmt: skip
#: What :meth:`Client.convert_model` converts to.
CONVERSION_TARGETS: tuple[str, ...] = ("onnx", "torchscript", "int8", "fp16")
#: The descriptor file of a model folder.
DESCRIPTOR_NAME = "tz-model.json"
#: Where local files are staged in the caller's workspace while they are registered. Not
#: ``.tz-staging``: the workspace reserves names starting with ``.tz-`` for itself.
MODEL_STAGING = "tz-staging/models"


def parse_model_ref(ref: str) -> tuple[str | None, str, int | None]:
    """Split a model reference ``[owner/]name[:N]`` (or an id ``mdl-…[:N]``).

    Parameters
    ----------
    ref : str
        E.g. ``shapes-cnn``, ``alice/shapes-cnn:3`` or ``mdl-0123456789ab:2``.

    Returns
    -------
    (str or None, str, int or None)
        Owner, name (or id) and version number.

    Raises
    ------
    ValueError
        Naming ``ref``: not a string, an empty or extra owner part, a name outside
        ``[a-z0-9][a-z0-9_-]{0,62}``, or a version that is not a number >= 1.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"ref: expected [owner/]name[:N], got {ref!r}")
    base, sep, number = ref.partition(":")
    version: int | None = None
    if sep:
        if not _DIGITS.match(number) or int(number) < 1:
            raise ValueError(f"ref: {ref!r}: the version after ':' must be a number >= 1")
        version = int(number)
    owner, slash, name = base.rpartition("/")
    if slash and (not owner or "/" in owner):
        raise ValueError(f"ref: {ref!r}: expected [owner/]name[:N]")
    if not _MODEL_NAME.match(name):
        raise ValueError(
            f"ref: {ref!r}: {name!r} is not a model name (lower-case letters, digits, '-' and "
            "'_', starting with a letter or digit, at most 63 characters)"
        )
    return owner or None, name, version


def _check_model_name(name: str) -> None:
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValueError(
            f"name: {name!r} is not a model name (lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 63 characters)"
        )


def _version_number(version: int | str) -> int:
    if isinstance(version, bool) or not (
        isinstance(version, int) or (isinstance(version, str) and _DIGITS.match(version))
    ):
        raise ValueError(f"version: expected a number >= 1, got {version!r}")
    if int(version) < 1:
        raise ValueError(f"version: expected a number >= 1, got {version!r}")
    return int(version)


def _no_version(what: str) -> TzClientError:
    return TzClientError(
        f"model {what}: has no version yet (register one first)",
        status=404,
        reason="NoVersion",
        errors={"version": "no version"},
    )


def _run_id(run: str | Mapping[str, Any]) -> str:
    return str(run["id"]) if isinstance(run, Mapping) else run


def _ref_text(ref: ModelRef) -> str:
    if isinstance(ref, Mapping):
        return str(ref.get("ref") or ref.get("name") or ref.get("id"))
    return ref


def model_source(uri: str | os.PathLike[str]) -> dict[str, str] | Path:
    """Map what :meth:`Client.register_model` is given to the service's ``source``.

    Parameters
    ----------
    uri : str or os.PathLike
        - ``job://<job id>[/<path>]`` (or ``tz-job://``): a folder of a finished job's output
          (default ``model``);
        - ``workspace://<space>/<path>`` (or ``tz-ws://``, ``ws://``), ``user:<name>/<path>``,
          ``team:<group>/<path>``: a workspace folder;
        - ``file://<path>``, an ``os.PathLike`` or any other string: a local file or folder.

    Returns
    -------
    dict or pathlib.Path
        ``{"job", "path"}`` or ``{"space", "path"}`` for the service, or the local path to
        upload first.

    Raises
    ------
    ValueError
        ``s3://``, ``http(s)://`` and other schemes the service does not read from, and
        references without a job id, space name or path.
    """
    if not isinstance(uri, str):
        return Path(uri)
    text = uri.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        space, slash, path = text.partition("/")
        if _SPACE.match(space):
            return _workspace_source(uri, space, path if slash else "")
        return Path(text)
    scheme = scheme.lower()
    if scheme == "file":
        return Path(rest)
    if scheme in ("job", "tz-job"):
        job, _, path = rest.partition("/")
        if not job:
            raise ValueError(f"uri: {uri!r} names no job (job://<job id>/model)")
        return {"job": job, "path": path.strip("/") or "model"}
    if scheme in ("workspace", "ws", "tz-ws"):
        space, _, path = rest.partition("/")
        if not _SPACE.match(space):
            raise ValueError(
                f"uri: {uri!r}: expected workspace://user:<name>/<path> or "
                "workspace://team:<group>/<path>"
            )
        return _workspace_source(uri, space, path)
    raise ValueError(
        f"uri: {uri!r}: models are registered from local files, a job's output (job://<id>/model) "
        f"or the workspace (user:<name>/<path>), not from {scheme}://"
    )


def _workspace_source(uri: str, space: str, path: str) -> dict[str, str]:
    path = path.strip("/")
    if not path:
        raise ValueError(f"uri: {uri!r} names no folder in {space} (e.g. {space}/exports/m1)")
    return {"space": space, "path": path}


def _file_matches(path: Path, size: int, sha256: str) -> bool:
    """Whether ``path`` is a file of ``size`` bytes with this sha256 (a kept download)."""
    try:
        if not path.is_file() or path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256
    except OSError:
        return False


def run_status_line(run: Mapping[str, Any]) -> str:
    """One line for a run's state, e.g. ``convert run run-0123456789ab failed: parity check
    failed: max_abs 0.31 > 0.0001``.

    Parameters
    ----------
    run : dict
        The Run.

    Returns
    -------
    str
    """
    line = f"{run.get('kind') or 'model'} run {run.get('id')} {run.get('status')}"
    if run.get("message"):
        line += f": {run['message']}"
    elif run.get("status") == "succeeded" and run.get("result_version") is not None:
        line += f": version {run['result_version']}"
    return line


@dataclass(frozen=True)
class DatasetFile:
    """One file of an opened dataset version.

    Attributes
    ----------
    key : str
        Its path inside the dataset (``images/cat1.jpg``).
    size : int
    sha256 : str
    usage : str or None
        ``train``, ``val``, ``test`` or None.
    annotations : dict
        ``{"labels": [...], "boxes": [{"label", "x", "y", "w", "h"}]}``.
    """

    key: str
    size: int
    sha256: str
    usage: str | None
    annotations: dict[str, Any]
    _owner: OpenedDataset = field(repr=False, compare=False)

    @property
    def label(self) -> str | None:
        """The first label (what image classification uses), or None."""
        labels = self.annotations.get("labels") or []
        return str(labels[0]) if labels else None

    @property
    def boxes(self) -> list[dict[str, Any]]:
        """Object-detection boxes ``{"label", "x", "y", "w", "h"}`` (pixels, top-left x/y)."""
        return [dict(b) for b in self.annotations.get("boxes") or []]

    @property
    def path(self) -> Path:
        """The local file, downloaded (and sha256-checked) on first use."""
        return self._owner.fetch(self)

    def open(self, mode: str = "rb") -> Any:
        """Open the local copy (``"rb"`` or ``"r"``)."""
        if mode not in ("rb", "r"):
            raise ValueError(f"mode: datasets are read-only, got {mode!r}")
        return open(self.path, mode)


class OpenedDataset(FileSet):
    """A published dataset version opened for reading (what :meth:`Client.open_dataset` returns).

    It reads like the job-side :class:`training_zoo.datasets.reader.DatasetVersion` (``files``,
    ``split()``, ``labels``, ``root``, ``file.path``/``label``/``boxes``), so code written in a
    notebook runs unchanged inside a training job. The manifest is read once; file bytes are
    downloaded only when a file's ``path`` is first used (or all at once with :meth:`download`),
    into ``<cache>/blobs/<sha256>`` (verified, shared by every dataset and version) and linked at
    ``<cache>/<owner>/<name>/<version>/<key>`` (:attr:`root`), so folder-based loaders
    (``torchvision.datasets.ImageFolder``) work.

    Attributes
    ----------
    name, version : str
        The dataset's name and the version (``V001``).
    dataset : dict
        The Dataset.
    version_info : dict
        The version (``manifest_sha256``, ``stats``, ``created``...).
    files : tuple of DatasetFile
        Sorted by key.
    """

    def __init__(
        self,
        client: Client,
        dataset: dict[str, Any],
        version: dict[str, Any],
        entries: Iterable[Mapping[str, Any]],
        cache: Path,
    ) -> None:
        self._client = client
        self.dataset = dataset
        self.version_info = version
        self.name = str(dataset.get("name"))
        self.version = str(version["version"])
        self.cache = cache
        self._lock = threading.Lock()
        self.files = tuple(
            DatasetFile(
                key=str(e["key"]),
                size=int(e.get("size") or 0),
                sha256=str(e.get("sha256") or ""),
                usage=e.get("usage"),
                annotations=dict(e.get("annotations") or {}),
                _owner=self,
            )
            for e in entries
        )
        self._by_key = {f.key: f for f in self.files}

    def __repr__(self) -> str:
        return f"<OpenedDataset {self.ref} files={len(self.files)}>"

    def __getitem__(self, key: str) -> DatasetFile:
        return self._by_key[key]

    @property
    def ref(self) -> str:
        """``owner/name:Vnnn``."""
        return f"{self.dataset.get('owner')}/{self.name}:{self.version}"

    @property
    def annotations(self) -> dict[str, dict[str, Any]]:
        """Annotations by key."""
        return {f.key: f.annotations for f in self.files}

    @property
    def splits(self) -> dict[str, list[DatasetFile]]:
        """Files by usage: ``train``, ``val``, ``test`` and ``unassigned``."""
        out: dict[str, list[DatasetFile]] = {"train": [], "val": [], "test": [], "unassigned": []}
        for f in self.files:
            out.setdefault(f.usage or "unassigned", []).append(f)
        return out

    @property
    def root(self) -> Path:
        """The folder where files appear under their keys once fetched."""
        owner = str(self.dataset.get("owner") or "_")
        return self.cache / _segment(owner) / _segment(self.name) / _segment(self.version)

    def fetch(self, file: DatasetFile) -> Path:
        """Download ``file`` if needed; returns its path under :attr:`root`."""
        target = self.root.joinpath(*_key_parts(file.key))
        if target.exists():
            return target
        blob = self.cache / "blobs" / _segment(file.sha256 or hashlib.sha256(
            file.key.encode()).hexdigest())  # fmt: skip
        if not blob.exists():
            self._client.download_dataset_file(
                self.dataset, file.key, blob, version=self.version,
                sha256=file.sha256 or None,
            )  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if not target.exists():
                _link_or_copy(blob, target)
        return target

    def download(self, parallel: int = 4) -> Path:
        """Fetch every file (``parallel`` at a time); returns :attr:`root`."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="tz-dataset") as pool:
            for _ in pool.map(self.fetch, self.files):
                pass
        return self.root


def _segment(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"refusing the unsafe path segment {name!r}")
    return name


def _key_parts(key: str) -> list[str]:
    # Keys come from a manifest someone else may have written: never let one leave the root.
    if key.startswith("/"):
        raise ValueError(f"key: refusing the absolute key {key!r}")
    return [_segment(part) for part in key.split("/")]


def _link_or_copy(blob: Path, target: Path) -> None:
    try:
        os.link(blob, target)
    except OSError:
        # Another filesystem, or one without hard links: a copy costs space, not correctness.
        import shutil

        shutil.copyfile(blob, target)


_default_lock = threading.Lock()
_default: Client | None = None


def default_client() -> Client:
    """The client the ``tz.workspace`` and ``tz.datasets`` functions use.

    Made on first use from the environment (``TZ_URL``/``TZ_TOKEN``, or inside a user server
    ``TZ_SERVICE_URL``/``JUPYTERHUB_API_TOKEN``); replace it with :func:`set_default_client`.
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def set_default_client(client: Client | None) -> None:
    """Use ``client`` for the facades (``None``: make a new one from the environment)."""
    global _default
    with _default_lock:
        _default = client


def facade_forward(
    package: str, names: Iterable[str], namespace: Mapping[str, Any]
) -> Callable[[str], Any]:
    """``forward(name)`` for ``package``'s module ``__getattr__`` (``training_zoo.models``):
    the facade function ``name`` from ``namespace`` (a facade module's ``globals()``) when it is
    one of ``names``, else the ``AttributeError`` a missing attribute raises."""
    forwarded = frozenset(names)

    def forward(name: str) -> Any:
        if name in forwarded:
            return namespace[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return forward
