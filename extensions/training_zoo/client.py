"""The Python SDK: one synchronous REST client for the TZ service, shaped like the Kubeflow SDK.

Exports
-------
Client
    ``Client(url=None, token=None, *, timeout=30.0, transport=None)``; methods ``info``,
    ``upload_snapshot``, ``train``, ``list_jobs``, ``get_job``, ``get_job_events``,
    ``get_job_logs``, ``get_job_metrics``, ``poll_job_metrics``, ``iter_job_metrics``,
    ``wait_for_job_status``, ``cancel_job``, ``clone_job``, ``delete_job``, ``queue``.
TzClientError
    Every failure talking to the service: HTTP errors (with the server's ``message``, ``status``,
    ``reason`` and per-field ``errors``), connection errors and missing configuration.
EventStream
    What ``follow=True`` returns: an iterator with a thread-safe ``close()``.
ServerSentEvent, iter_sse
    The small Server-Sent Events parser behind it.
TERMINAL_STATUSES, resolve_api_url

The magics, the widgets and the ``tz`` CLI all go through :class:`Client`, so authentication and
error handling live here once. Importing this module stays light (httpx and the standard library).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import quote

import httpx

from .snapshot import DEFAULT_MAX_BYTES, pack_directory

__all__ = [
    "TERMINAL_STATUSES",
    "Client",
    "EventStream",
    "ServerSentEvent",
    "TzClientError",
    "iter_sse",
    "resolve_api_url",
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


def _job_path(job_id: str, *rest: str) -> str:
    # Job ids come from users and servers alike; quoting keeps them one path segment.
    return "/".join(["jobs", quote(str(job_id), safe=""), *rest])


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

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
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
            raise _error_from_response(response)
        return response

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
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise TzClientError(
                f"cannot reach the TZ service at {self.api_url}: {exc}", reason="ConnectionError"
            ) from exc
        if response.is_error:
            try:
                response.read()
            finally:
                response.close()
            raise _error_from_response(response)
        return response

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
        params: dict[str, Any] = {"offset": 0, "limit": _PAGE_LIMIT}
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        if all:
            params["all"] = "true"
        jobs: list[dict[str, Any]] = []
        while True:
            page = self._json("GET", "jobs", params=params)
            jobs.extend(page.get("items", []))
            nxt = (page.get("_pagination") or {}).get("next")
            # Follow offset/limit rather than next.url: the url is built from the service's view
            # of its own address, which a client behind another proxy may not reach.
            if not nxt or nxt.get("offset") is None or nxt["offset"] <= params["offset"]:
                return jobs
            params["offset"] = nxt["offset"]
            params["limit"] = nxt.get("limit") or params["limit"]

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
