"""The ``tz`` command line: submit and follow training jobs from a terminal.

Exports
-------
main(argv=None) -> int
    Entry point of the ``tz`` console script.
Subcommand, register_subcommand, make_client
    How subcommands plug in (see below).
EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_JOB_CANCELLED, EXIT_API_ERROR
    Exit codes.
JOB_COLUMNS, job_rows, format_table, format_items, format_fields, parse_env, int_at_least,
positive_number
    Helpers shared with the magics.

Usage::

    tz up [JUPYTERHUB ARGS...]
    tz [--url URL] [--token TOKEN] train [options] SCRIPT [ARGS...]
    tz jobs [--all] [--status S]
    tz logs JOB [--follow] [--rank N] [--tail N]
    tz status JOB [--json]
    tz cancel JOB
    tz clone JOB [--name NAME]
    tz datasets list|create|show|add|publish|versions|diff|export ...
    tz models list|show|versions|register|download|promote|history|lineage|convert|evaluate|
              runs|compare ...
    tz ws ls|mkdir|mv|cp|rm|upload|download ...

``tz train`` options go before SCRIPT; everything after SCRIPT is passed to the script unchanged,
as with ``torchrun``. It prints the new job's id on stdout (``JOB=$(tz train x.py)`` works);
``--wait`` then waits and prints the final status on stderr.

Exit codes
----------
0  success (with ``--wait``: the job succeeded)
1  the job failed (``--wait``)
2  usage error: bad options, missing script, script outside the working directory
3  the job was cancelled (``--wait``)
4  API or connection error (the service's message is printed), or no service configured
130  interrupted (Ctrl-C)

Errors are printed as ``tz: error: <message>`` on stderr, never as a traceback.

``tz ws upload`` and ``tz datasets add`` show a progress bar on stderr. Interrupting them (Ctrl-C,
a killed terminal, a dropped connection) leaves the upload session open on the service: running
the same command again sends only the parts that had not arrived.

Adding a subcommand
-------------------
Build a :class:`Subcommand` (name, help, ``configure(parser)``, ``run(args) -> exit code``) and pass
it to :func:`register_subcommand` when this module is imported; ``run`` calls
``make_client(args)`` only if it talks to the service. ``tz up`` is wired this way: its ``run``
imports :mod:`training_zoo.up` only when called, so the other commands stay light.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .client import TERMINAL_STATUSES, Client, TransferProgress, TzClientError

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_JOB_CANCELLED",
    "EXIT_JOB_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "DATASET_COLUMNS",
    "JOB_COLUMNS",
    "ProgressBar",
    "Subcommand",
    "format_fields",
    "format_items",
    "format_table",
    "int_at_least",
    "job_rows",
    "rows_of",
    "main",
    "make_client",
    "parse_env",
    "positive_number",
    "register_subcommand",
]

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_JOB_CANCELLED = 3
EXIT_API_ERROR = 4
EXIT_INTERRUPTED = 130

_EXIT_FOR_STATUS = {
    "succeeded": EXIT_OK,
    "failed": EXIT_JOB_FAILED,
    "cancelled": EXIT_JOB_CANCELLED,
}

#: Seconds between status polls of ``tz train --wait``.
POLL_INTERVAL = 2.0

# -- helpers shared with the magics ----------------------------------------------------------


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= minimum`` with a message naming the rule.

    Parameters
    ----------
    minimum : int
        Smallest accepted value.

    Returns
    -------
    callable
        ``str -> int``, raising ``argparse.ArgumentTypeError``.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"int>={minimum}"
    return parse


def positive_number(text: str) -> float:
    """An argparse ``type`` accepting numbers ``> 0`` (CPU counts may be fractional).

    Parameters
    ----------
    text : str
        The option's value.

    Returns
    -------
    float
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def parse_env(pairs: Sequence[str] | None, option: str = "--env") -> dict[str, str]:
    """Turn ``["K=V", ...]`` into a dict.

    Parameters
    ----------
    pairs : sequence of str, optional
        Items as given on the command line.
    option : str
        Option name used in error messages.

    Returns
    -------
    dict
        Variable names to values (a later duplicate wins).

    Raises
    ------
    ValueError
        An item has no ``=`` or an empty name.
    """
    env: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} expects KEY=VALUE, got {pair!r}")
        env[key.strip()] = value
    return env


#: (header, Job field) pairs of job tables; ``OWNER`` is added for ``--all``.
JOB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "id"),
    ("NAME", "name"),
    ("STATUS", "status"),
    ("WORLD", "world_size"),
    ("CREATED", "created"),
)
_OWNER_COLUMN = ("OWNER", "owner")
#: Fields shown as times in tables (``time``: a model's stage history).
_TIME_KEYS = ("created", "started", "finished", "updated", "modified", "time")


def _cell(job: Mapping[str, Any], key: str) -> str:
    value = job.get(key)
    if value is None:
        return ""
    if key in _TIME_KEYS and isinstance(value, str):
        # 2026-01-02T03:04:05.678Z -> 2026-01-02 03:04:05: seconds are enough in a table.
        return value.replace("T", " ").rstrip("Z").split(".")[0]
    return str(value)


def job_rows(
    jobs: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]] = JOB_COLUMNS
) -> list[list[str]]:
    """Table cells for jobs.

    Parameters
    ----------
    jobs : sequence of dict
        Jobs from the API.
    columns : sequence of (header, field)
        Which fields, in order.

    Returns
    -------
    list of list of str
    """
    return [[_cell(job, key) for _, key in columns] for job in jobs]


#: (header, field) pairs of dataset tables (``tz datasets list``, ``%tz_datasets``).
DATASET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NAME", "name"),
    ("OWNER", "owner"),
    ("TYPE", "type"),
    ("VISIBILITY", "visibility"),
    ("FILES", "draft.files"),
    ("LATEST", "latest_version"),
    ("VERSIONS", "versions"),
)
#: (header, field) pairs of dataset version tables.
VERSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("VERSION", "version"),
    ("FILES", "files"),
    ("BYTES", "bytes"),
    ("CREATED", "created"),
    ("BY", "created_by"),
    ("NOTE", "note"),
)


def rows_of(
    items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]
) -> list[list[str]]:
    """Table cells for API objects; a field ``a.b`` reads ``item["a"]["b"]``.

    Parameters
    ----------
    items : sequence of dict
        Objects from the API.
    columns : sequence of (header, field)
        Which fields, in order.

    Returns
    -------
    list of list of str
    """
    rows = []
    for item in items:
        row = []
        for _, key in columns:
            value: Any = item
            for part in key.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            leaf = key.rsplit(".", 1)[-1]
            row.append(_cell({leaf: value}, leaf))
        rows.append(row)
    return rows


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned plain-text table, columns separated by two spaces.

    Parameters
    ----------
    headers : sequence of str
        Column titles.
    rows : sequence of sequence of str
        Cells.

    Returns
    -------
    str
        One line per row, no trailing spaces.
    """
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    )


def format_items(items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A :func:`format_table` of API objects: the headers of ``columns`` over :func:`rows_of`."""
    return format_table([h for h, _ in columns], rows_of(items, columns))


def format_fields(fields: Sequence[tuple[str, str]]) -> str:
    """``field: value`` lines of one object (e.g. :func:`describe_model`), values aligned."""
    width = max(len(k) for k, _ in fields) + 1
    return "\n".join(f"{k + ':':<{width}} {v}" for k, v in fields)


def status_line(job: Mapping[str, Any]) -> str:
    """One line for a job's outcome, e.g. ``job mnist-3f9a succeeded``.

    Parameters
    ----------
    job : dict
        The Job.

    Returns
    -------
    str
    """
    line = f"job {job.get('id')} {job.get('status')}"
    if job.get("message"):
        line += f": {job['message']}"
    return line


# -- subcommand registry ---------------------------------------------------------------------


@dataclass(frozen=True)
class Subcommand:
    """One ``tz`` subcommand.

    Attributes
    ----------
    name : str
        As typed: ``tz <name>``.
    help : str
        One line for ``tz --help``.
    configure : callable
        Adds the subcommand's arguments to its ``argparse`` parser.
    run : callable
        ``run(args) -> int`` exit code. Raise :class:`TzClientError` for service errors and
        ``ValueError`` for usage errors; :func:`main` prints them.
    description : str, optional
        Longer text for ``tz <name> --help``.
    passthrough : bool
        Accept arguments the parser does not know and hand them to ``run`` as ``args.extra``
        (``tz up --debug`` passes ``--debug`` on to jupyterhub).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None
    passthrough: bool = False


_SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(command: Subcommand) -> Subcommand:
    """Make a subcommand available to :func:`main`.

    Parameters
    ----------
    command : Subcommand
        The subcommand; its name must be new.

    Returns
    -------
    Subcommand
        ``command``, so this can be used in assignments.

    Raises
    ------
    ValueError
        A subcommand with that name exists already.
    """
    if command.name in _SUBCOMMANDS:
        raise ValueError(f"tz subcommand {command.name!r} is already registered")
    _SUBCOMMANDS[command.name] = command
    return command


def make_client(args: argparse.Namespace) -> Client:
    """The REST client for the global ``--url``/``--token`` options (else the environment).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments.

    Returns
    -------
    Client

    Raises
    ------
    TzClientError
        No URL or token configured.
    """
    return Client(args.url, args.token)


def _err(message: str) -> None:
    print(f"tz: error: {message}", file=sys.stderr)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _print_items(
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    empty: str,
    *,
    as_json: bool = False,
) -> int:
    """``items`` as JSON or as a table; ``empty`` on stderr when there are none. Exit code OK."""
    if as_json:
        _print_json(items)
    elif not items:
        print(empty, file=sys.stderr)
    else:
        print(format_items(items, columns))
    return EXIT_OK


def _print_detail(
    fields: Sequence[tuple[str, str]],
    items: Sequence[Mapping[str, Any]] = (),
    columns: Sequence[tuple[str, str]] = (),
) -> int:
    """One object's ``field: value`` lines, then a blank line and the table of ``items`` (if
    any). Exit code OK."""
    print(format_fields(fields))
    if items:
        print()
        print(format_items(items, columns))
    return EXIT_OK


# -- tz train --------------------------------------------------------------------------------


def _configure_train(p: argparse.ArgumentParser) -> None:
    _configure_train_options(p)
    p.add_argument("script", help="entry script, inside the working directory")
    p.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="arguments passed to the script; tz options may follow them, and everything after "
        "`--` goes to the script unchanged",
    )


def _take_trailing_options(args: argparse.Namespace) -> None:
    """Let tz options follow the script's arguments (``tz train SCRIPT [ARGS...] --nodes N``).

    Tokens after SCRIPT that are tz train options are taken by tz; everything else, and
    everything after ``--``, is left for the script in its original order.
    """
    rest = list(args.args)
    tail: list[str] = []
    if "--" in rest:
        cut = rest.index("--")
        rest, tail = rest[:cut], rest[cut + 1 :]
    parser = argparse.ArgumentParser(prog="tz train", add_help=False, allow_abbrev=False)
    _configure_train_options(parser)
    for action in parser._actions:
        action.default = argparse.SUPPRESS  # only what the user typed may override

    found, script_args = parser.parse_known_args(rest)
    for key, value in vars(found).items():
        if key == "env":
            args.env = (args.env or []) + value
        else:
            setattr(args, key, value)
    args.args = script_args + tail


#: The job options of ``tz train`` and ``%tz_train``, defined once: ``(flags, kwargs)``.
TRAIN_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (("--name",), {"help": "job name (default: the script's file name, or 'cell')"}),
    (("--framework",), {
        "choices": ("pytorch", "tensorflow", "custom"), "default": "pytorch",
        "help": "how ranks start: torchrun, TF_CONFIG or plain processes (default pytorch)",
    }),
    (("--nodes",), {"type": int_at_least(1), "default": 1, "metavar": "N",
                    "help": "number of nodes (default 1)"}),
    (("--procs-per-node",), {"type": int_at_least(1), "default": 1, "metavar": "N",
                             "help": "processes (ranks) per node (default 1)"}),
    (("--gpus-per-node",), {"type": int_at_least(0), "default": 0, "metavar": "N",
                            "help": "GPUs per node (default 0)"}),
    (("--cpus-per-node",), {"type": positive_number, "metavar": "N",
                            "help": "CPUs per node (service default)"}),
    (("--memory-per-node",), {"metavar": "SIZE",
                              "help": "memory per node, e.g. 16Gi (enforced; service default)"}),
    (("--env",), {"action": "append", "metavar": "KEY=VALUE",
                  "help": "environment variable for the job (repeatable)"}),
    (("--max-retries",), {"type": int_at_least(0), "default": 0, "metavar": "N",
                          "help": "restarts after a failure (default 0)"}),
    (("--timeout",), {"type": int_at_least(0), "default": 0, "metavar": "SECONDS",
                      "help": "stop the job after SECONDS (0: never)"}),
    (("--priority",), {"type": int, "default": 0, "metavar": "N",
                       "help": "higher runs first (default 0)"}),
    (("--dataset",), {"action": "append", "metavar": "NAME:VERSION", "dest": "datasets",
                      "help": "a dataset version the job reads, e.g. pets:V001 (repeatable); "
                              "the job finds it with training_zoo.datasets.open()"}),
]  # fmt: skip


def train_spec(options: argparse.Namespace) -> dict[str, Any]:
    """The ``Client.train`` keyword arguments that :data:`TRAIN_OPTIONS` parsed into ``options``.

    Raises
    ------
    ValueError
        For a malformed ``--env``.
    """
    return {
        "name": options.name,
        "framework": options.framework,
        "nodes": options.nodes,
        "procs_per_node": options.procs_per_node,
        "gpus_per_node": options.gpus_per_node,
        "cpus_per_node": options.cpus_per_node,
        "memory_per_node": options.memory_per_node,
        "env": parse_env(options.env),
        "max_retries": options.max_retries,
        "timeout": options.timeout,
        "priority": options.priority,
        "datasets": list(options.datasets or ()),
    }


def _configure_train_options(p: argparse.ArgumentParser) -> None:
    for flags, kwargs in TRAIN_OPTIONS:
        p.add_argument(*flags, **kwargs)
    p.add_argument(
        "--workdir",
        default=".",
        metavar="DIR",
        help="folder uploaded as the working directory (default .)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the job to end; exit 0 succeeded, 1 failed, 3 cancelled",
    )


def _run_train(args: argparse.Namespace) -> int:
    try:
        _take_trailing_options(args)
    except SystemExit:
        return EXIT_USAGE  # argparse already printed which option was wrong
    spec = train_spec(args)
    client = make_client(args)
    job = client.train(args.script, args=args.args, working_dir=args.workdir, **spec)
    print(job["id"], flush=True)
    if not args.wait:
        return EXIT_OK
    try:
        final = client.wait_for_job_status(job["id"], polling_interval=POLL_INTERVAL)
    except KeyboardInterrupt:
        _err(f"stopped waiting; job {job['id']} keeps running (tz cancel {job['id']})")
        return EXIT_INTERRUPTED
    print(status_line(final), file=sys.stderr)
    return _EXIT_FOR_STATUS.get(final.get("status", ""), EXIT_API_ERROR)


# -- tz jobs / logs / status / cancel / clone ------------------------------------------------


def _configure_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="every user's jobs (admins only)")
    p.add_argument("--status", help="only these statuses, comma separated (e.g. running,queued)")


def _run_jobs(args: argparse.Namespace) -> int:
    jobs = make_client(args).list_jobs(status=args.status, all=args.all)
    columns = (*JOB_COLUMNS, _OWNER_COLUMN) if args.all else JOB_COLUMNS
    if not jobs:
        print("no jobs", file=sys.stderr)
        return EXIT_OK
    print(format_table([h for h, _ in columns], job_rows(jobs, columns)))
    return EXIT_OK


def _configure_logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", help="job id")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.add_argument(
        "--rank", type=int_at_least(0), metavar="N", help="only this rank (no [rank] prefix)"
    )
    p.add_argument("--tail", type=int_at_least(1), metavar="N", help="only the last N lines")


def _run_logs(args: argparse.Namespace) -> int:
    lines = make_client(args).get_job_logs(
        args.job, rank=args.rank, follow=args.follow, tail=args.tail
    )
    for rank, line in lines:
        print(line if args.rank is not None else f"[{rank}] {line}", flush=args.follow)
    return EXIT_OK


def _configure_job(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", help="job id")


def _configure_status(p: argparse.ArgumentParser) -> None:
    _configure_job(p)
    p.add_argument("--json", action="store_true", help="print the Job as JSON")


def _run_status(args: argparse.Namespace) -> int:
    job = make_client(args).get_job(args.job)
    if args.json:
        _print_json(job)
        return EXIT_OK
    spec = job.get("spec") or {}
    resources = spec.get("resources_per_node") or {}
    status = str(job.get("status"))
    if job.get("reason") and job.get("reason", "").lower() != status:
        status += f" ({job['reason']})"
    fields = [
        ("id", job.get("id")),
        ("name", job.get("name")),
        ("owner", job.get("owner")),
        ("status", status),
        ("message", job.get("message")),
        ("framework", job.get("framework")),
        ("entry", spec.get("entry") or ("<cell>" if spec.get("code") else None)),
        (
            "world size",
            f"{job.get('world_size')} ({spec.get('nodes', 1)} node(s) x "
            f"{spec.get('procs_per_node', 1)} proc(s))",
        ),
        ("gpus/node", resources.get("gpus")),
        ("queue position", job.get("queue_position")),
        ("attempt", job.get("attempt")),
        ("created", _cell(job, "created")),
        ("started", _cell(job, "started")),
        ("finished", _cell(job, "finished")),
        ("exit code", job.get("exit_code")),
        ("output dir", job.get("output_dir")),
        ("cloned from", job.get("cloned_from")),
    ]
    return _print_detail([(k, str(v)) for k, v in fields if v not in (None, "")])


def _run_cancel(args: argparse.Namespace) -> int:
    job = make_client(args).cancel_job(args.job)
    print(f"job {job.get('id', args.job)} cancel requested (status {job.get('status')})")
    return EXIT_OK


def _configure_clone(p: argparse.ArgumentParser) -> None:
    _configure_job(p)
    p.add_argument("--name", help="name of the copy (default: the original's)")


def _run_clone(args: argparse.Namespace) -> int:
    overrides = {"name": args.name} if args.name else {}
    job = make_client(args).clone_job(args.job, **overrides)
    print(job["id"])
    return EXIT_OK


def _configure_up(p: argparse.ArgumentParser) -> None:
    p.usage = "tz up [JUPYTERHUB ARGS...]"


def _run_up(args: argparse.Namespace) -> int:
    # Imported on use: starting the platform needs nothing from the REST client, and the
    # other subcommands need nothing from it.
    from .up import main as up_main

    return up_main(list(args.extra))


def _configure_k8s_render(p: argparse.ArgumentParser) -> None:
    from .k8s.render import configure

    configure(p)


def _run_k8s_render(args: argparse.Namespace) -> int:
    from .k8s.render import run

    return run(args)


# -- progress bar (tz ws upload/download, tz datasets add) -----------------------------------

MB = 1_000_000


def _mb(n: int) -> str:
    return f"{n / MB:.1f}"


def _duration(seconds: float) -> str:
    """A time still to wait, as precise as it is worth: ``8 s``, ``50 s``, ``3 min``,
    ``1 h 5 min``, ``2 d 3 h`` (the Lab's uploads dock says it the same way)."""
    if seconds < 55:
        s = max(1, math.ceil(seconds))
        return f"{s if s < 10 else math.ceil(s / 5) * 5} s"
    minutes = max(1, math.floor(seconds / 60 + 0.5))  # half up, as JavaScript rounds
    if minutes < 60:
        return f"{minutes} min"
    hours, m = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {m} min" if m else f"{hours} h"
    days, h = divmod(hours, 24)
    return f"{days} d {h} h" if h else f"{days} d"


class ProgressBar:
    """A plain-text progress bar for transfers, drawn on a stream (stderr).

    On a terminal it redraws one line (``\\r``) at most ``refresh`` times a second; elsewhere (a
    log, a pipe) it prints a full line every ``log_every`` seconds. It says once when an upload
    resumes, and :meth:`finish` prints the summary: bytes sent, bytes resumed and the rate.

    Parameters
    ----------
    stream : file
        Where to draw (default ``sys.stderr``).
    verb : str
        ``upload`` or ``download``, for the summary line.
    width : int
        Characters of the bar itself.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        verb: str = "upload",
        width: int = 30,
        refresh: float = 0.1,
        log_every: float = 2.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.verb = verb
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = refresh if self.tty else log_every
        self.state = TransferProgress()
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._said_resume = False
        self._lock = threading.Lock()

    def __call__(self, state: TransferProgress) -> None:
        with self._lock:
            self.state = state
            if state.parts_resumed and not self._said_resume:
                self._said_resume = True
                self._line(
                    f"resuming: {state.parts_resumed} part(s), {_mb(state.resumed)} MB already "
                    "uploaded are not sent again"
                )
            now = time.monotonic()
            if now - self._last_draw >= self.interval:
                self._last_draw = now
                self._draw()

    def _rate(self) -> float:
        elapsed = max(time.monotonic() - self._start, 1e-6)
        return (self.state.done - self.state.resumed) / MB / elapsed

    def render(self) -> str:
        """The bar as one line, e.g. ``[#####-----]  50%  20.0/40.0 MB  12.5 MB/s  2 s left``
        (the time left once a second of sending has been seen)."""
        st = self.state
        fraction = st.done / st.total if st.total else 1.0
        filled = int(self.width * min(max(fraction, 0.0), 1.0))
        rate = self._rate()
        line = (
            f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction:4.0%}  "
            f"{_mb(st.done)}/{_mb(st.total)} MB  {rate:.1f} MB/s"
        )
        if rate > 0 and st.done < st.total and time.monotonic() - self._start >= 1.0:
            line += f"  {_duration((st.total - st.done) / MB / rate)} left"
        if st.files_total > 1:
            line += f"  files {st.files_done}/{st.files_total}"
        return line

    def _line(self, text: str) -> None:
        if self.tty:
            text = "\r\x1b[K" + text
        print(text, file=self.stream, flush=True)

    def _draw(self) -> None:
        if self.tty:
            print("\r\x1b[K" + self.render(), end="", file=self.stream, flush=True)
        else:
            print(self.render(), file=self.stream, flush=True)

    def finish(self, what: str) -> None:
        """Draw the final state and a summary line naming ``what`` was transferred."""
        with self._lock:
            self._draw()
            if self.tty:
                print(file=self.stream)
            st = self.state
            sent = st.done - st.resumed
            summary = (
                f"{self.verb}ed {what}: {_mb(st.done)} MB, {_mb(sent)} MB sent at "
                f"{self._rate():.1f} MB/s"
            )
            if st.parts_resumed:
                summary += f", {_mb(st.resumed)} MB resumed ({st.parts_resumed} part(s))"
            if st.skipped:
                summary += f", {st.skipped} file(s) already there"
            print(summary, file=self.stream, flush=True)

    def interrupted(self, hint: str) -> None:
        """Say what was done before an interruption and how to go on."""
        with self._lock:
            if self.tty:
                print(file=self.stream)
            print(
                f"interrupted after {_mb(self.state.done)} of {_mb(self.state.total)} MB; {hint}",
                file=self.stream,
                flush=True,
            )


def _progress(args: argparse.Namespace, verb: str) -> ProgressBar | None:
    return None if args.quiet else ProgressBar(verb=verb)


@contextmanager
def _transfer(
    args: argparse.Namespace, verb: str, what: str, hint: str, *, show: bool = True
) -> Iterator[ProgressBar | None]:
    """The progress bar of one transfer (None with ``--quiet`` or without ``show``).

    When the block ends the bar's summary names ``what``; on Ctrl-C it says how far it got and
    ``hint`` (how to go on), and the KeyboardInterrupt goes on to :func:`main` (exit 130).
    """
    bar = _progress(args, verb) if show else None
    try:
        yield bar
    except KeyboardInterrupt:
        if bar is not None:
            bar.interrupted(hint)
        raise
    if bar is not None:
        bar.finish(what)


# -- tz ws -----------------------------------------------------------------------------------


def _space_of(client: Client, args: argparse.Namespace) -> str:
    from .sdk_workspace import own_space

    return own_space(client, args.space)


def _add_space(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--space", help="user:<name> or team:<group> (default: your own space, user:<you>)"
    )


def _size_cell(item: Mapping[str, Any]) -> str:
    return "" if item.get("size") is None else str(item["size"])


def _configure_ws(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="ws_command", metavar="ACTION", required=True)

    ls = sub.add_parser("ls", help="list a folder", allow_abbrev=False)
    ls.add_argument("path", nargs="?", default="", help="folder (default: the space's root)")
    _add_space(ls)
    ls.add_argument("--sort", choices=("name", "size", "modified"), default="name")
    ls.add_argument("--order", choices=("asc", "desc"), default="asc")
    ls.add_argument("-l", "--long", action="store_true", help="show type, size and time")
    ls.add_argument("--json", action="store_true", help="one JSON item per line")
    ls.set_defaults(ws_run=_run_ws_ls)

    mkdir = sub.add_parser("mkdir", help="create a folder (and its parents)", allow_abbrev=False)
    mkdir.add_argument("path")
    _add_space(mkdir)
    mkdir.add_argument("-p", "--parents", action="store_true", help="no error if it exists")
    mkdir.set_defaults(ws_run=_run_ws_mkdir)

    for name, verb in (("mv", "move or rename"), ("cp", "copy")):
        t = sub.add_parser(name, help=f"{verb} a file or folder", allow_abbrev=False)
        t.add_argument("path")
        t.add_argument("target")
        _add_space(t)
        t.add_argument("--overwrite", action="store_true", help="replace an existing target")
        t.set_defaults(ws_run=_run_ws_transfer, ws_action=name)

    rm = sub.add_parser("rm", help="delete a file (a folder needs -r)", allow_abbrev=False)
    rm.add_argument("path")
    _add_space(rm)
    rm.add_argument("-r", "--recursive", action="store_true", help="delete a folder and all in it")
    rm.set_defaults(ws_run=_run_ws_rm)

    up = sub.add_parser(
        "upload",
        help="upload a file or folder (resumable)",
        description="Upload in parts with a progress bar. Interrupted? Run the same command "
        "again: only the parts (and files) that did not arrive are sent.",
        allow_abbrev=False,
    )
    up.add_argument("local", help="local file or folder")
    up.add_argument("path", nargs="?", default="", help="target path (default: the local name)")
    _add_space(up)
    up.add_argument("--parallel", type=int_at_least(1), default=4, metavar="N",
                    help="parts in flight at once (default 4)")  # fmt: skip
    up.add_argument("--part-size", type=int_at_least(5), metavar="MiB",
                    help="part size in MiB (default: the service's, 16)")  # fmt: skip
    up.add_argument("--overwrite", action="store_true", help="replace existing files")
    up.add_argument("--no-resume", dest="resume", action="store_false",
                    help="start again instead of resuming an interrupted upload")  # fmt: skip
    up.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    up.set_defaults(ws_run=_run_ws_upload)

    down = sub.add_parser("download", help="download a file or folder", allow_abbrev=False)
    down.add_argument("path")
    down.add_argument("dest", nargs="?", default=".", help="local folder or name (default .)")
    _add_space(down)
    down.add_argument("--parallel", type=int_at_least(1), default=4, metavar="N",
                      help="files of a folder at once (default 4)")  # fmt: skip
    down.add_argument("--all", dest="skip_unchanged", action="store_false",
                      help="download every file again, even those already here with the same "
                      "size and modification time")  # fmt: skip
    down.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    down.set_defaults(ws_run=_run_ws_download)


def _run_ws(args: argparse.Namespace) -> int:
    return args.ws_run(args)


def _run_ws_ls(args: argparse.Namespace) -> int:
    client = make_client(args)
    items = client.ws_list(_space_of(client, args), args.path, sort=args.sort, order=args.order)
    if args.json:
        for item in items:
            print(json.dumps(item, sort_keys=True))
        return EXIT_OK
    if not args.long:
        for item in items:
            print(item["name"] + ("/" if item.get("type") == "folder" else ""))
        return EXIT_OK
    rows = [
        [item.get("type", ""), _size_cell(item), _cell(item, "modified"),
         item["name"] + ("/" if item.get("type") == "folder" else "")]
        for item in items
    ]  # fmt: skip
    if rows:
        print(format_table(["TYPE", "SIZE", "MODIFIED", "NAME"], rows))
    return EXIT_OK


def _run_ws_mkdir(args: argparse.Namespace) -> int:
    client = make_client(args)
    item = client.ws_mkdir(_space_of(client, args), args.path, exist_ok=args.parents)
    print(item.get("path", args.path))
    return EXIT_OK


def _run_ws_transfer(args: argparse.Namespace) -> int:
    client = make_client(args)
    op = client.ws_move if args.ws_action == "mv" else client.ws_copy
    item = op(_space_of(client, args), args.path, args.target, overwrite=args.overwrite)
    print(item.get("path", args.target))
    return EXIT_OK


def _run_ws_rm(args: argparse.Namespace) -> int:
    client = make_client(args)
    space = _space_of(client, args)
    if not args.recursive and client.ws_stat(space, args.path).get("type") == "folder":
        raise ValueError(
            f"{args.path!r} is a folder; use tz ws rm -r to delete it with its contents"
        )
    client.ws_delete(space, args.path)
    return EXIT_OK


def _run_ws_upload(args: argparse.Namespace) -> int:
    local = Path(args.local)
    if not local.exists():
        raise ValueError(f"local: {args.local!r} does not exist")
    client = make_client(args)
    space = _space_of(client, args)
    bar = _progress(args, "upload")
    try:
        result = client.ws_upload(
            local, space, args.path, progress=bar, parallel=args.parallel, resume=args.resume,
            overwrite=args.overwrite,
            part_size=args.part_size * (1 << 20) if args.part_size else None,
        )  # fmt: skip
    except KeyboardInterrupt:
        if bar is not None:
            bar.interrupted("run the same command again to resume")
        else:
            _err("interrupted; run the same command again to resume")
        return EXIT_INTERRUPTED
    items = result if isinstance(result, list) else [result]
    target = args.path or local.name
    if bar is not None:
        bar.finish(f"{space}/{target}")
    if not isinstance(result, list):
        print(result.get("path", target))
    else:
        print(f"{target} ({len(items)} file(s) sent)")
    return EXIT_OK


def _run_ws_download(args: argparse.Namespace) -> int:
    client = make_client(args)
    space = _space_of(client, args)
    hint = "partial files were removed; run the command again"
    with _transfer(args, "download", f"{space}/{args.path}", hint) as bar:
        path = client.ws_download(space, args.path, args.dest, progress=bar,
                                  parallel=args.parallel, skip_unchanged=args.skip_unchanged)
    print(path)
    return EXIT_OK


# -- tz datasets -----------------------------------------------------------------------------

_DATASET_TYPES = ("image_classification", "object_detection", "text", "tabular", "generic")
_EXPORT_FORMATS = ("coco", "imagenet", "manifest")


def _configure_datasets(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="ds_command", metavar="ACTION", required=True)

    ls = sub.add_parser("list", help="datasets you may read", allow_abbrev=False)
    ls.add_argument("q", nargs="?", help="search text")
    ls.add_argument("--type", choices=_DATASET_TYPES)
    ls.add_argument("--owner")
    ls.add_argument("--visibility", choices=("private", "team", "public"))
    ls.add_argument("--json", action="store_true", help="print the datasets as JSON")
    ls.set_defaults(ds_run=_run_ds_list)

    create = sub.add_parser("create", help="create a dataset", allow_abbrev=False)
    create.add_argument("name", help="[a-z0-9][a-z0-9_-]{0,62}")
    create.add_argument("--type", choices=_DATASET_TYPES, default="generic")
    create.add_argument("--description", default="")
    create.add_argument("--visibility", choices=("private", "team", "public"), default="private")
    create.add_argument("--team", help="the team (JupyterHub group) of a team dataset")
    create.add_argument("--labels", default="", help="label set, comma separated")
    create.set_defaults(ds_run=_run_ds_create)

    show = sub.add_parser("show", help="one dataset with its versions", allow_abbrev=False)
    show.add_argument("ref", help="[owner/]name (or ds-<id>)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(ds_run=_run_ds_show)

    add = sub.add_parser(
        "add",
        help="add files to the draft: local (uploaded), from the workspace, or s3://",
        description="SOURCE is a local file or folder (uploaded to your workspace under "
        "dataset-uploads/<name>/ first, resumably), a workspace path with --workspace, or an "
        "s3:// prefix in the platform's store (referenced, not copied).",
        allow_abbrev=False,
    )
    add.add_argument("ref")
    add.add_argument("source")
    add.add_argument("--workspace", action="store_true", help="SOURCE is a workspace path")
    _add_space(add)
    add.add_argument("--prefix", help="folder inside the dataset")
    add.add_argument("--parallel", type=int_at_least(1), default=4, metavar="N")
    add.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add.set_defaults(ds_run=_run_ds_add)

    publish = sub.add_parser("publish", help="freeze the draft as a new version",
                             allow_abbrev=False)  # fmt: skip
    publish.add_argument("ref")
    publish.add_argument("--note")
    publish.set_defaults(ds_run=_run_ds_publish)

    versions = sub.add_parser("versions", help="published versions", allow_abbrev=False)
    versions.add_argument("ref")
    versions.set_defaults(ds_run=_run_ds_versions)

    diff = sub.add_parser("diff", help="what changed between two versions", allow_abbrev=False)
    diff.add_argument("ref")
    diff.add_argument("version", help="e.g. V002")
    diff.add_argument("against", help="e.g. V001")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(ds_run=_run_ds_diff)

    export = sub.add_parser("export", help="write a version into the workspace",
                            allow_abbrev=False)  # fmt: skip
    export.add_argument("ref", help="[owner/]name[:Vnnn] (no version: the draft)")
    export.add_argument("path", help="workspace path to write")
    export.add_argument("--format", choices=_EXPORT_FORMATS, default="manifest")
    _add_space(export)
    export.set_defaults(ds_run=_run_ds_export)


def _run_datasets(args: argparse.Namespace) -> int:
    return args.ds_run(args)


def _run_ds_list(args: argparse.Namespace) -> int:
    items = make_client(args).list_datasets(
        args.q, type=args.type, owner=args.owner, visibility=args.visibility
    )
    return _print_items(items, DATASET_COLUMNS, "no datasets", as_json=args.json)


def _run_ds_create(args: argparse.Namespace) -> int:
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    dataset = make_client(args).create_dataset(
        args.name, type=args.type, description=args.description, visibility=args.visibility,
        team=args.team, labels=labels,
    )  # fmt: skip
    print(dataset["id"])
    return EXIT_OK


def describe_dataset(dataset: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, text)`` lines describing a dataset (for ``tz datasets show`` and the magic)."""
    draft = dataset.get("draft") or {}
    fields = [
        ("id", dataset.get("id")),
        ("name", dataset.get("name")),
        ("owner", dataset.get("owner")),
        ("type", dataset.get("type")),
        ("visibility", dataset.get("visibility")
         + (f" ({dataset['team']})" if dataset.get("team") else "")
         if dataset.get("visibility") else None),
        ("description", dataset.get("description")),
        ("labels", ", ".join(dataset.get("labels") or [])),
        ("draft", f"{draft.get('files', 0)} file(s), {draft.get('bytes', 0)} bytes, "
                  f"{draft.get('labeled', 0)} labeled" if draft else None),
        ("latest version", dataset.get("latest_version")),
        ("created", _cell(dataset, "created")),
        ("updated", _cell(dataset, "updated")),
    ]  # fmt: skip
    return [(k, str(v)) for k, v in fields if v not in (None, "")]


def _run_ds_show(args: argparse.Namespace) -> int:
    client = make_client(args)
    dataset = client.get_dataset(args.ref)
    versions = client.dataset_versions(dataset)
    if args.json:
        _print_json({"dataset": dataset, "versions": versions})
        return EXIT_OK
    return _print_detail(describe_dataset(dataset), versions, VERSION_COLUMNS)


def _run_ds_add(args: argparse.Namespace) -> int:
    client = make_client(args)
    if args.source.startswith("s3://"):
        result = client.add_dataset_files(args.ref, uri=args.source, prefix=args.prefix)
    elif args.workspace:
        result = client.add_dataset_files(
            args.ref, _space_of(client, args), args.source, prefix=args.prefix
        )
    else:
        local = Path(args.source)
        if not local.exists():
            raise ValueError(
                f"source: {args.source!r} is not a local file or folder (use --workspace for a "
                "workspace path, or an s3:// URI)"
            )
        from . import sdk_datasets
        from .client import set_default_client

        set_default_client(client)
        with _transfer(args, "upload", str(local), "run the same command again to resume") as bar:
            result = sdk_datasets.upload(args.ref, local, prefix=args.prefix, space=args.space,
                                         progress=bar, parallel=args.parallel)  # fmt: skip
    print(
        f"added {result.get('added', 0)} file(s), {result.get('bytes', 0)} bytes"
        + (f"; {result['skipped']} skipped" if result.get("skipped") else "")
    )
    return EXIT_OK


def _run_ds_publish(args: argparse.Namespace) -> int:
    version = make_client(args).publish_dataset(args.ref, args.note)
    print(version.get("version"))
    return EXIT_OK


def _run_ds_versions(args: argparse.Namespace) -> int:
    versions = make_client(args).dataset_versions(args.ref)
    return _print_items(versions, VERSION_COLUMNS, "no versions (publish the draft first)")


def format_diff(diff: Mapping[str, Any]) -> list[str]:
    """``+ key`` / ``- key`` / ``~ key: before -> after`` lines of a version diff."""
    lines = [f"+ {key}" for key in diff.get("added") or []]
    lines += [f"- {key}" for key in diff.get("removed") or []]
    for change in diff.get("relabeled") or []:
        before = json.dumps(change.get("before"), sort_keys=True)
        after = json.dumps(change.get("after"), sort_keys=True)
        lines.append(f"~ {change.get('key')}: {before} -> {after}")
    return lines


def _run_ds_diff(args: argparse.Namespace) -> int:
    diff = make_client(args).diff_versions(args.ref, args.version, args.against)
    if args.json:
        _print_json(diff)
        return EXIT_OK
    for line in format_diff(diff):
        print(line)
    counts = diff.get("counts") or {}
    if counts:
        print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())), file=sys.stderr)
    return EXIT_OK


def _run_ds_export(args: argparse.Namespace) -> int:
    client = make_client(args)
    item = client.export_dataset(args.ref, args.format, _space_of(client, args), args.path)
    print(item.get("path", args.path))
    return EXIT_OK


# -- tz models -------------------------------------------------------------------------------

_MODEL_TASKS = (
    "image_classification", "object_detection", "text_classification",
    "tabular_classification", "regression", "generic",
)  # fmt: skip
_EVAL_TASKS = ("image_classification", "tabular_classification", "regression", "custom")

#: (header, field) pairs of model tables (``tz models list``, ``%tz_models``).
MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("NAME", "name"),
    ("OWNER", "owner"),
    ("TASK", "task"),
    ("VISIBILITY", "visibility"),
    ("LATEST", "latest_version"),
    ("PRODUCTION", "production_version"),
    ("VERSIONS", "versions"),
    ("UPDATED", "updated"),
)
#: (header, field) pairs of model version tables.
MODEL_VERSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("VERSION", "version"),
    ("STAGE", "stage"),
    ("FORMAT", "format"),
    ("BYTES", "size_bytes"),
    ("FILES", "files"),
    ("SOURCE", "source.kind"),
    ("CREATED", "created"),
    ("BY", "created_by"),
)
#: (header, field) pairs of conversion and evaluation run tables.
RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "id"),
    ("KIND", "kind"),
    ("VERSION", "version"),
    ("STATUS", "status"),
    ("RESULT", "result_version"),
    ("DATASET", "dataset"),
    ("CREATED", "created"),
    ("FINISHED", "finished"),
)
#: (header, field) pairs of stage history tables.
HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("TIME", "time"),
    ("VERSION", "version"),
    ("FROM", "from"),
    ("TO", "to"),
    ("BY", "by"),
    ("COMMENT", "comment"),
)


def _configure_models(p: argparse.ArgumentParser) -> None:
    from .client import CONVERSION_TARGETS, MODEL_FORMATS, MODEL_STAGES

    sub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    def action(
        name: str, help: str, run: Callable[[argparse.Namespace], int], **kwargs: Any
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, allow_abbrev=False, **kwargs)
        parser.set_defaults(models_run=run)
        return parser

    ls = action("list", "models you may read", _run_models_list)
    ls.add_argument("q", nargs="?", help="search text")
    ls.add_argument("--task", choices=_MODEL_TASKS)
    ls.add_argument("--stage", choices=MODEL_STAGES, help="with a version in this stage")
    ls.add_argument("--owner")
    ls.add_argument("--visibility", choices=("private", "team", "public"))
    ls.add_argument("--json", action="store_true", help="print the models as JSON")

    show = action("show", "one model with its versions, or one version (REF:N)", _run_models_show)
    show.add_argument("ref", help="[owner/]name (the model) or [owner/]name:N (a version)")
    show.add_argument("--json", action="store_true")

    versions = action("versions", "a model's versions, newest first", _run_models_versions)
    versions.add_argument("ref", help="[owner/]name or mdl-<id>")
    versions.add_argument("--json", action="store_true")

    register = action(
        "register",
        "register a new version from local files, the workspace or a finished job",
        _run_models_register,
        description="SOURCE is a local file or folder (uploaded to your workspace under "
        "tz-staging/models/ first and removed afterwards), a workspace folder "
        "user:<name>/<path> or team:<group>/<path>, or job://<job id>[/<path>]; or give --job. "
        "A folder's tz-model.json describes the version; options override it. Prints the new "
        "version's ref.",
    )
    register.add_argument("source", nargs="?", help="local path, user:<name>/<path>, job://<id>")
    register.add_argument("--name", help="the model's name (default: the tz-model.json's)")
    register.add_argument("--job", help="a finished job whose output holds the model")
    register.add_argument(
        "--path", default="model", help="with --job: the folder in the job's output (default model)"
    )
    register.add_argument("--format", choices=MODEL_FORMATS)
    register.add_argument("--task", choices=_MODEL_TASKS)
    register.add_argument("--description")
    register.add_argument("--visibility", choices=("private", "team", "public"))
    register.add_argument("--team", help="the team (JupyterHub group) of a team model")
    register.add_argument("--version-name", help="a display name for the version")
    register.add_argument("--parallel", type=int_at_least(1), default=4, metavar="N")
    register.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    download = action(
        "download", "download a version's files (sha256-checked)", _run_models_download
    )
    download.add_argument("ref", help="[owner/]name[:N] (no :N: the latest)")
    download.add_argument("dest", nargs="?", help="folder to fill (default ./<name>-<N>)")
    download.add_argument("--parallel", type=int_at_least(1), default=4, metavar="N")
    download.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    promote = action(
        "promote",
        "move a version to a stage (default production)",
        _run_models_promote,
        description="One production version per model: promoting another one archives the "
        "old. Every move is kept in the model's history.",
    )
    promote.add_argument("ref", help="[owner/]name:N (no :N: the latest)")
    promote.add_argument("stage", nargs="?", default="production", choices=MODEL_STAGES)
    promote.add_argument("--comment", help="why, for the history")

    history = action("history", "a model's stage moves", _run_models_history)
    history.add_argument("ref")
    history.add_argument("--json", action="store_true")

    lineage = action(
        "lineage", "where a version came from and what was made of it", _run_models_lineage
    )
    lineage.add_argument("ref", help="[owner/]name[:N]")
    lineage.add_argument("--json", action="store_true")

    convert = action(
        "convert",
        "convert a version (a tracked job; the result is a new version)",
        _run_models_convert,
        description="Prints the run's id. With --wait, follows the run, prints its status "
        "changes on stderr and exits 1 with the run's message if it fails (e.g. a parity check "
        "out of tolerance).",
    )
    convert.add_argument("ref", help="[owner/]name[:N] (no :N: the latest)")
    convert.add_argument("--to", required=True, choices=CONVERSION_TARGETS)
    convert.add_argument("--opset", type=int_at_least(7), metavar="N", help="ONNX opset")
    convert.add_argument("--tolerance-abs", type=positive_number, metavar="X")
    convert.add_argument("--tolerance-rel", type=positive_number, metavar="X")
    convert.add_argument(
        "--samples", type=int_at_least(1), metavar="N", help="inputs compared for parity"
    )
    convert.add_argument("--dataset", help="take parity inputs from this dataset version")
    convert.add_argument("--split", choices=("train", "val", "test"))
    convert.add_argument("--wait", action="store_true", help="follow the run until it ends")

    evaluate = action(
        "evaluate",
        "evaluate a version on a dataset version (a tracked job)",
        _run_models_evaluate,
        description="Prints the run's id. With --wait, follows the run, prints its status "
        "changes and its metrics, and exits 1 with the run's message if it fails.",
    )
    evaluate.add_argument("ref", help="[owner/]name[:N] (no :N: the latest)")
    evaluate.add_argument("--dataset", required=True, help="[owner/]name[:Vnnn]")
    evaluate.add_argument("--split", choices=("train", "val", "test"))
    evaluate.add_argument("--task", choices=_EVAL_TASKS)
    evaluate.add_argument("--batch-size", type=int_at_least(1), metavar="N")
    evaluate.add_argument("--target", metavar="COLUMN", help="target column (tabular)")
    evaluate.add_argument(
        "--script", help="custom evaluation script, inside the current directory (uploaded with it)"
    )
    evaluate.add_argument("--wait", action="store_true", help="follow the run until it ends")

    runs = action("runs", "a model's conversion and evaluation runs", _run_models_runs)
    runs.add_argument("ref")
    runs.add_argument("--kind", choices=("convert", "evaluate"))
    runs.add_argument("--json", action="store_true")

    compare = action(
        "compare",
        "compare versions: metrics, latency, size (first = baseline)",
        _run_models_compare,
    )
    compare.add_argument("refs", nargs="+", metavar="REF", help="[owner/]name:N")
    compare.add_argument("--dataset", help="only evaluations on this dataset version")
    out = compare.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print CSV (the service's)")
    out.add_argument("--json", action="store_true")


def _run_models(args: argparse.Namespace) -> int:
    return args.models_run(args)


def _run_models_list(args: argparse.Namespace) -> int:
    items = make_client(args).list_models(
        args.q, task=args.task, stage=args.stage, owner=args.owner, visibility=args.visibility
    )
    return _print_items(items, MODEL_COLUMNS, "no models", as_json=args.json)


def _scalars(values: Mapping[str, Any] | None) -> str:
    from .sdk_models import format_value

    return ", ".join(f"{k}={format_value(v)}" for k, v in sorted((values or {}).items()))


def describe_model(model: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, text)`` lines describing a model (``tz models show``, ``%tz_models show``)."""
    visibility = model.get("visibility")
    fields = [
        ("id", model.get("id")),
        ("name", model.get("name")),
        ("owner", model.get("owner")),
        ("task", model.get("task")),
        ("visibility", f"{visibility} ({model['team']})" if visibility and model.get("team")
         else visibility),
        ("description", model.get("description")),
        ("versions", model.get("versions")),
        ("latest version", model.get("latest_version")),
        ("production version", model.get("production_version")),
        ("created", _cell(model, "created")),
        ("updated", _cell(model, "updated")),
    ]  # fmt: skip
    return [(k, str(v)) for k, v in fields if v not in (None, "")]


def _tensors(specs: Sequence[Mapping[str, Any]] | None) -> str:
    return ", ".join(
        f"{s.get('name')} {s.get('dtype')} {list(s.get('shape') or [])}" for s in specs or []
    )


def describe_model_version(version: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, text)`` lines describing one model version."""
    source = version.get("source") or {}
    lineage = version.get("lineage") or {}
    job = lineage.get("job") or {}
    signature = version.get("signature") or {}
    parent = version.get("parent") or {}
    conversion = version.get("conversion") or {}
    parity = conversion.get("parity") or {}
    evaluations = version.get("evaluations") or []
    latest = evaluations[0] if evaluations else {}
    fields = [
        ("ref", version.get("ref")),
        ("model id", version.get("model_id")),
        ("version name", version.get("version_name")),
        ("stage", version.get("stage")),
        ("description", version.get("description")),
        ("format", version.get("format")),
        ("framework", " ".join(str(v) for v in (version.get("framework"),
                                                  version.get("framework_version")) if v)),
        ("artifact", version.get("artifact")),
        ("size", f"{version.get('size_bytes')} bytes in {version.get('files')} file(s)"
         if version.get("size_bytes") is not None else None),
        ("inputs", _tensors(signature.get("inputs"))),
        ("outputs", _tensors(signature.get("outputs"))),
        ("labels", ", ".join(str(label) for label in version.get("labels") or [])),
        ("metrics", _scalars(version.get("metrics"))),
        ("parameters", _scalars(version.get("parameters"))),
        ("tags", _scalars(version.get("tags"))),
        ("source", " ".join(str(v) for v in (source.get("kind"), source.get("job_id"),
                                              source.get("path")) if v)),
        ("parent", parent.get("ref")),
        ("conversion", (f"{conversion.get('kind')}" + (
            f", parity max_abs {parity.get('max_abs')} (passed: {parity.get('passed')})"
            if parity else "")) if conversion else None),
        ("job", f"{job.get('id')} ({job.get('status')})" if job else None),
        ("datasets", ", ".join(str(d.get("ref")) for d in lineage.get("datasets") or [])),
        ("evaluations", f"{len(evaluations)}, latest {latest.get('id')} on "
                        f"{latest.get('dataset')}: {_scalars(_flat(latest.get('metrics')))}"
         if evaluations else None),
        ("created", _cell(version, "created")),
        ("created by", version.get("created_by")),
    ]  # fmt: skip
    return [(k, str(v)) for k, v in fields if v not in (None, "")]


def _flat(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    # Per-class tables and confusion matrices do not fit on one line.
    return {k: v for k, v in (metrics or {}).items() if not isinstance(v, Mapping | list)}


def _run_models_show(args: argparse.Namespace) -> int:
    from .client import parse_model_ref

    client = make_client(args)
    if parse_model_ref(args.ref)[2] is not None:
        version = client.get_model_version(args.ref)
        if args.json:
            _print_json(version)
            return EXIT_OK
        return _print_detail(describe_model_version(version))
    model = client.get_model(args.ref)
    versions = client.list_model_versions(model)
    if args.json:
        _print_json({"model": model, "versions": versions})
        return EXIT_OK
    return _print_detail(describe_model(model), versions, MODEL_VERSION_COLUMNS)


def _run_models_versions(args: argparse.Namespace) -> int:
    versions = make_client(args).list_model_versions(args.ref)
    empty = "no versions (register one first)"
    return _print_items(versions, MODEL_VERSION_COLUMNS, empty, as_json=args.json)


def _run_models_register(args: argparse.Namespace) -> int:
    from .client import model_source

    if (args.source is None) == (args.job is None):
        raise ValueError("give SOURCE (local path, user:<name>/<path>, job://<id>) or --job JOB")
    fields = {
        "format": args.format,
        "task": args.task,
        "description": args.description,
        "visibility": args.visibility,
        "team": args.team,
        "version": args.version_name,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    client = make_client(args)
    if args.job is not None:
        version = client.register_model(
            args.name, source={"job": args.job, "path": args.path}, **fields
        )
        print(version.get("ref"))
        return EXIT_OK
    where = model_source(args.source)
    name = args.name
    if name is None and isinstance(where, Path):
        from .sdk_models import _descriptor_name

        name = _descriptor_name(where)
    hint = "nothing was registered; run the command again"
    with _transfer(args, "upload", str(args.source), hint, show=isinstance(where, Path)) as bar:
        version = client.register_model(
            name, args.source, progress=bar, parallel=args.parallel, **fields
        )
    print(version.get("ref"))
    return EXIT_OK


def _run_models_download(args: argparse.Namespace) -> int:
    client = make_client(args)
    model_id, number = client._model_version(args.ref)
    if args.dest:
        dest = Path(args.dest)
    else:
        from .client import parse_model_ref

        _, name, _ = parse_model_ref(args.ref)
        dest = Path(f"{name}-{number}")
    hint = "files already complete are kept; run the command again"
    with _transfer(args, "download", f"{args.ref} ({model_id}:{number})", hint) as bar:
        path = client.download_model(
            {"model_id": model_id, "version": number}, dest, progress=bar, parallel=args.parallel
        )
    print(path)
    return EXIT_OK


def _run_models_promote(args: argparse.Namespace) -> int:
    version = make_client(args).set_model_stage(args.ref, args.stage, args.comment)
    print(f"{version.get('ref')} {version.get('stage')}")
    return EXIT_OK


def _run_models_history(args: argparse.Namespace) -> int:
    items = make_client(args).model_history(args.ref)
    # Times read like the other tables' (to the second, without the T and Z): see _TIME_KEYS.
    return _print_items(items, HISTORY_COLUMNS, "no stage changes yet", as_json=args.json)


def format_lineage(lineage: Mapping[str, Any]) -> list[str]:
    """``kind ref -edge-> kind ref`` lines of a lineage graph, one per edge (nodes without an
    edge on their own line)."""
    nodes = {str(n.get("id")): n for n in lineage.get("nodes") or []}

    def label(node_id: Any) -> str:
        node = nodes.get(str(node_id)) or {}
        return f"{node.get('kind', '?')} {node.get('ref') or node.get('label') or node_id}"

    lines = [
        f"{label(e.get('from'))} -{e.get('kind')}-> {label(e.get('to'))}"
        for e in lineage.get("edges") or []
    ]
    linked = {str(e.get(k)) for e in lineage.get("edges") or [] for k in ("from", "to")}
    lines += [label(node_id) for node_id in nodes if node_id not in linked]
    return lines


def _run_models_lineage(args: argparse.Namespace) -> int:
    lineage = make_client(args).model_lineage(args.ref)
    if args.json:
        _print_json(lineage)
        return EXIT_OK
    for line in format_lineage(lineage):
        print(line)
    return EXIT_OK


def _started_run(client: Client, run: Mapping[str, Any], wait: bool) -> int:
    """Print a new run's id; with ``wait``, follow it (status changes on stderr) and return the
    exit code of its outcome."""
    from .client import run_status_line

    print(run["id"], flush=True)
    if not wait:
        return EXIT_OK
    start = time.monotonic()
    seen: list[Any] = [None]

    def report(current: dict[str, Any]) -> None:
        status = current.get("status")
        if status != seen[0] and status not in TERMINAL_STATUSES:
            seen[0] = status
            job = f" (job {current['job_id']})" if current.get("job_id") else ""
            print(
                f"[{time.monotonic() - start:5.0f}s] run {current.get('id')} {status}{job}",
                file=sys.stderr,
                flush=True,
            )

    try:
        final = client.wait_for_model_run(run, raise_on_failure=False, callback=report)
    except KeyboardInterrupt:
        print(f"stopped waiting; run {run.get('id')} keeps going", file=sys.stderr)
        return EXIT_INTERRUPTED
    status = final.get("status")
    if status == "succeeded":
        print(run_status_line(final), file=sys.stderr)
        if final.get("metrics"):
            print(f"metrics: {_scalars(_flat(final['metrics']))}", file=sys.stderr)
        speed = final.get("speed") or {}
        if speed:
            keys = ("runtime", "latency_ms_p50", "latency_ms_p95", "throughput_per_s")
            shown = {k: speed[k] for k in keys if k in speed}
            print(f"speed: {_scalars(shown)}", file=sys.stderr)
    else:
        _err(run_status_line(final))
    return _EXIT_FOR_STATUS.get(str(status), EXIT_JOB_FAILED)


def _run_models_convert(args: argparse.Namespace) -> int:
    client = make_client(args)
    run = client.convert_model(
        args.ref, args.to, opset=args.opset, tolerance_abs=args.tolerance_abs,
        tolerance_rel=args.tolerance_rel, samples=args.samples, dataset=args.dataset,
        split=args.split,
    )  # fmt: skip
    return _started_run(client, run, args.wait)


def _run_models_evaluate(args: argparse.Namespace) -> int:
    client = make_client(args)
    run = client.evaluate_model(
        args.ref, args.dataset, split=args.split, task=args.task, batch_size=args.batch_size,
        target=args.target, script=args.script,
    )  # fmt: skip
    return _started_run(client, run, args.wait)


def _run_models_runs(args: argparse.Namespace) -> int:
    items = make_client(args).list_model_runs(args.ref, args.kind)
    return _print_items(items, RUN_COLUMNS, "no runs", as_json=args.json)


def _run_models_compare(args: argparse.Namespace) -> int:
    from .sdk_models import compare_table, format_value

    client = make_client(args)
    if args.csv:
        sys.stdout.write(client.compare_models_csv(args.refs, args.dataset))
        return EXIT_OK
    comparison = client.compare_models(args.refs, args.dataset)
    if args.json:
        _print_json(comparison)
        return EXIT_OK
    headers, rows = compare_table(comparison)
    print(format_table(headers, [[format_value(v) for v in row] for row in rows]))
    if comparison.get("dataset"):
        print(f"dataset: {comparison['dataset']}", file=sys.stderr)
    return EXIT_OK


for _command in (
    Subcommand(
        "up",
        "start the embedded platform (hub, proxy, TZ service) on 127.0.0.1",
        _configure_up,
        _run_up,
        "Start JupyterHub, the proxy and the TZ service on 127.0.0.1; other arguments are "
        "passed on to jupyterhub.",
        passthrough=True,
    ),
    Subcommand(
        "train",
        "submit a training job",
        _configure_train,
        _run_train,
        "Pack the working directory, upload it and submit SCRIPT as a job. Options go before "
        "SCRIPT; everything after SCRIPT is passed to the script. Prints the job id.",
    ),
    Subcommand("jobs", "list jobs, newest first", _configure_jobs, _run_jobs),
    Subcommand("logs", "print a job's logs", _configure_logs, _run_logs),
    Subcommand("status", "show one job", _configure_status, _run_status),
    Subcommand("cancel", "cancel a job", _configure_job, _run_cancel),
    Subcommand("clone", "resubmit a job with the same snapshot", _configure_clone, _run_clone),
    Subcommand(
        "datasets",
        "datasets: list, create, show, add files, publish versions, diff, export",
        _configure_datasets,
        _run_datasets,
        "Work with datasets: a reference is [owner/]name[:Vnnn] or a ds-<id>.",
    ),
    Subcommand(
        "models",
        "models: list, show, register, download, promote, convert, evaluate, compare",
        _configure_models,
        _run_models,
        "Work with the model registry: a reference is [owner/]name[:N] (no :N: the latest "
        "version) or a mdl-<id>.",
    ),
    Subcommand(
        "ws",
        "workspace files: ls, mkdir, mv, cp, rm, upload, download",
        _configure_ws,
        _run_ws,
        "The workspace (network disk). --space picks user:<name> or team:<group>; the default "
        "is your own space.",
    ),
    Subcommand(
        "k8s-render",
        "write the Kubernetes objects TZ needs (service, runtimes, queues) from Helm values",
        _configure_k8s_render,
        _run_k8s_render,
        "Read custom.tz from Zero-to-JupyterHub values and write the TZ service, the Kubeflow "
        "ClusterTrainingRuntimes and the Kueue queues as YAML for kubectl apply.",
    ),
):
    register_subcommand(_command)


# -- entry point -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``tz`` argument parser with every registered subcommand.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="tz",
        allow_abbrev=False,
        description="Training Zoo: submit and follow training jobs.",
        epilog="Exit codes: 0 ok, 1 job failed, 2 usage, 3 job cancelled, 4 API/connection error.",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="hub URL, e.g. http://127.0.0.1:8000 (default $TZ_URL, else $TZ_SERVICE_URL)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="hub API token (default $TZ_TOKEN, else $JUPYTERHUB_API_TOKEN)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _SUBCOMMANDS.values():
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            # Without abbreviations, adding an option later cannot change what a script meant.
            allow_abbrev=False,
        )
        command.configure(p)
        p.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tz`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code (see the module docstring).
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        command = _SUBCOMMANDS.get(args.command or "")
        if extra and not (command and command.passthrough):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.extra = extra
    except SystemExit as exc:
        # argparse exits on --help (0) and on usage errors (2); main() returns instead so
        # callers and tests get the code.
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "run", None) is None:
        parser.print_usage(sys.stderr)
        _err("a COMMAND is required (try tz --help)")
        return EXIT_USAGE
    try:
        return args.run(args)
    except TzClientError as exc:
        _err(exc.message)
        for line in exc.details:
            print(f"  {line}", file=sys.stderr)
        return EXIT_API_ERROR
    except BrokenPipeError:
        # The reader went away (tz logs | head). Point stdout at devnull so the interpreter's
        # final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except (ValueError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
