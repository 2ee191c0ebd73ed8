"""IPython magics for training jobs, datasets and models: ``%tz_train``, ``%%tz_train``,
``%tz_jobs``, ``%tz_logs``, ``%tz_cancel``, ``%tz_datasets``, ``%tz_models``.

Exports
-------
TzMagics
    The ``Magics`` class (configurable: ``c.TzMagics.url``, ``c.TzMagics.token``,
    ``c.TzMagics.timeout``).
JobTable
    What ``%tz_jobs`` returns: an HTML table in notebooks, aligned text elsewhere.
Table
    What ``%tz_datasets`` and ``%tz_models`` return: the same for any rows of API objects
    (datasets, models, versions, comparisons), with an optional list of ``field: value`` lines
    above (one dataset or model).
load_ipython_extension(ip)
    Registers :class:`TzMagics`; ``%load_ext training_zoo`` delegates here.

The magics talk to the TZ service through :class:`training_zoo.client.Client` only. Bad options and
service errors become ``UsageError`` (one line, no traceback).
"""

from __future__ import annotations

import argparse
import html
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Float, Unicode

from .cli import (
    DATASET_COLUMNS,
    JOB_COLUMNS,
    MODEL_COLUMNS,
    MODEL_VERSION_COLUMNS,
    TRAIN_OPTIONS,
    VERSION_COLUMNS,
    describe_dataset,
    describe_model,
    describe_model_version,
    format_fields,
    format_items,
    int_at_least,
    rows_of,
    status_line,
    train_spec,
)
from .client import Client, TzClientError, parse_model_ref

if TYPE_CHECKING:
    from .widgets import JobMonitor

__all__ = ["JobTable", "Table", "TzMagics", "comparison_table", "load_ipython_extension"]


def train_arguments(func: Any) -> Any:
    """Decorate a magic with the job options of :data:`~training_zoo.cli.TRAIN_OPTIONS`."""
    for flags, kwargs in reversed(TRAIN_OPTIONS):
        func = argument(*flags, **kwargs)(func)
    return func


class Table:
    """Rows of API objects that display as an HTML table in notebooks and as text elsewhere.

    Every cell is escaped in HTML: names, descriptions and labels come from users.

    Parameters
    ----------
    items : sequence of dict
        Objects from the API.
    columns : sequence of (header, field)
        Which fields, in order (``a.b`` reads a nested field).
    empty : str
        What to show when there are no items.
    fields : sequence of (str, str), optional
        ``field: value`` lines shown above the table (one object's details).
    css_class : str
        Class of the HTML table.
    """

    def __init__(
        self,
        items: Sequence[Mapping[str, Any]],
        columns: Sequence[tuple[str, str]],
        *,
        empty: str = "nothing",
        fields: Sequence[tuple[str, str]] = (),
        css_class: str = "jp-tz-Table",
    ) -> None:
        self.items = [dict(item) for item in items]
        self.columns = tuple(columns)
        self.empty = empty
        self.fields = list(fields)
        self.css_class = css_class

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        parts = []
        if self.fields:
            parts.append(format_fields(self.fields))
        if self.items:
            parts.append(format_items(self.items, self.columns))
        elif not self.fields:
            parts.append(self.empty)
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        out = ""
        if self.fields:
            rows = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                for k, v in self.fields
            )
            out += f'<table class="jp-tz-Fields"><tbody>{rows}</tbody></table>'
        if not self.items:
            return out or f"<p>{html.escape(self.empty)}</p>"
        head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows_of(self.items, self.columns)
        )
        return out + (
            f'<table class="{self.css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )


class JobTable(Table):
    """A list of jobs that displays as an HTML table in notebooks and as text in terminals.

    Parameters
    ----------
    jobs : sequence of dict
        Jobs as returned by :meth:`Client.list_jobs`.
    show_owner : bool
        Add an OWNER column (for admins' ``--all`` listings).
    """

    def __init__(self, jobs: Sequence[Mapping[str, Any]], *, show_owner: bool = False) -> None:
        columns = (*JOB_COLUMNS, ("OWNER", "owner")) if show_owner else JOB_COLUMNS
        super().__init__(jobs, columns, empty="no jobs", css_class="jp-tz-JobTable")
        self.jobs = self.items


@contextmanager
def _usage_errors() -> Iterator[None]:
    """Turn client and input errors into one-line ``UsageError``s (IPython shows no traceback)."""
    try:
        yield
    except TzClientError as exc:
        raise UsageError(f"tz: {exc}") from None
    except (ValueError, OSError) as exc:
        raise UsageError(f"tz: {exc}") from None


@magics_class
class TzMagics(Magics):
    """Magics that submit and follow TZ training jobs from a notebook."""

    url = Unicode(
        "",
        config=True,
        help="""TZ URL (hub public URL, service URL or API base).

        Empty: ``$TZ_URL``, else ``$TZ_SERVICE_URL`` (set inside user servers).
        """,
    )
    token = Unicode(
        "",
        config=True,
        help="Hub API token. Empty: ``$TZ_TOKEN``, else ``$JUPYTERHUB_API_TOKEN``.",
    )
    timeout = Float(30.0, config=True, help="Seconds for each request to the TZ service.")
    poll_interval = Float(
        1.0,
        config=True,
        help="Seconds between job status polls of ``%tz_train --wait`` and the JobMonitor.",
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._client: Client | None = None
        self.last_monitor: JobMonitor | None = None

    @property
    def client(self) -> Client:
        """The REST client, created on first use from the traits or the environment."""
        if self._client is None:
            with _usage_errors():
                self._client = Client(self.url or None, self.token or None, timeout=self.timeout)
        return self._client

    @client.setter
    def client(self, value: Client | None) -> None:
        self._client = value

    # -- %tz_train / %%tz_train ------------------------------------------------------------

    @magic_arguments()
    @train_arguments
    @argument(
        "--workdir",
        metavar="DIR",
        help="Folder uploaded as the job's working directory (default: current directory).",
    )
    @argument(
        "--wait",
        action="store_true",
        help="Block until the job ends, print its final status and return the job.",
    )
    @argument("script", nargs="?", help="Entry script (line form only), inside the workdir.")
    @argument(
        "args",
        nargs=argparse.REMAINDER,
        help="Arguments for the script: everything after SCRIPT (cell form: after --).",
    )
    @line_cell_magic
    def tz_train(self, line: str, cell: str | None = None) -> Any:
        """Submit a training job and show a live monitor.

        Line form runs a script from the working directory::

            %tz_train --nodes 2 --procs-per-node 4 --gpus-per-node 4 train.py --epochs 3

        Cell form runs the cell's code as the entry script, with the notebook's current directory
        as the working directory::

            %%tz_train --gpus-per-node 1 -- --epochs 3
            import torch
            ...

        Options go before SCRIPT; everything after SCRIPT is passed to the script unchanged.
        Without ``--wait`` the magic returns at once and displays a ``JobMonitor``; with
        ``--wait`` it blocks until the job ends, prints the final status and returns the job.
        """
        opts = parse_argstring(self.tz_train, line)
        if cell is None and not opts.script:
            raise UsageError(
                "%tz_train needs a SCRIPT (e.g. %tz_train train.py), or use the cell form "
                "%%tz_train to run the cell's code"
            )
        try:
            spec = train_spec(opts)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if cell is not None:
            # In the cell form every positional word belongs to the cell's script.
            script_args = ([opts.script] if opts.script else []) + list(opts.args)
            source: dict[str, Any] = {"code": cell, "working_dir": opts.workdir or os.getcwd()}
        else:
            script_args = list(opts.args)
            source = {"script": opts.script, "working_dir": opts.workdir or "."}
        with _usage_errors():
            job = self.client.train(**source, args=script_args, **spec)
        monitor = self._show_monitor(job)
        if not opts.wait:
            return None
        try:
            with _usage_errors():
                job = self.client.wait_for_job_status(
                    job["id"], polling_interval=self.poll_interval
                )
        except KeyboardInterrupt:
            print(
                f"stopped waiting; job {job['id']} keeps running "
                f"(cancel it with %tz_cancel {job['id']})"
            )
            return None
        # The monitor's last fetch may trail ours by one poll; let it catch up for the display.
        monitor.wait(timeout=5)
        print(status_line(job))
        return job

    def _show_monitor(self, job: Mapping[str, Any]) -> JobMonitor:
        # Imported here: ipywidgets is only needed once something is displayed.
        from .widgets import JobMonitor

        monitor = JobMonitor(job, self.client, poll_interval=self.poll_interval)
        self.last_monitor = monitor
        display(monitor)
        return monitor

    # -- %tz_jobs --------------------------------------------------------------------------

    @magic_arguments()
    @argument("--all", action="store_true", help="Every user's jobs (admins only).")
    @argument("--status", help="Only these statuses, comma separated, e.g. running,queued.")
    @line_magic
    def tz_jobs(self, line: str) -> JobTable:
        """List your training jobs, newest first (HTML table in notebooks, text elsewhere)."""
        opts = parse_argstring(self.tz_jobs, line)
        with _usage_errors():
            jobs = self.client.list_jobs(status=opts.status, all=opts.all)
        return JobTable(jobs, show_owner=opts.all)

    # -- %tz_logs --------------------------------------------------------------------------

    @magic_arguments()
    @argument("--follow", "-f", action="store_true", help="Keep printing until the job ends.")
    @argument("--rank", type=int_at_least(0), metavar="N", help="Only this rank's lines.")
    @argument("--tail", type=int_at_least(1), metavar="N", help="Only the last N lines.")
    @argument("job", help="Job id.")
    @line_magic
    def tz_logs(self, line: str) -> None:
        """Print a job's logs, each line prefixed with its rank unless ``--rank`` is given."""
        opts = parse_argstring(self.tz_logs, line)
        with _usage_errors():
            lines = self.client.get_job_logs(
                opts.job, rank=opts.rank, follow=opts.follow, tail=opts.tail
            )
            try:
                for rank, text in lines:
                    print(text if opts.rank is not None else f"[{rank}] {text}", flush=True)
            except KeyboardInterrupt:
                return None
        return None

    # -- %tz_cancel ------------------------------------------------------------------------

    @magic_arguments()
    @argument("job", help="Job id.")
    @line_magic
    def tz_cancel(self, line: str) -> None:
        """Cancel a job (at once when queued, shortly when running)."""
        opts = parse_argstring(self.tz_cancel, line)
        with _usage_errors():
            job = self.client.cancel_job(opts.job)
        print(f"cancel requested for job {job.get('id', opts.job)} (now {job.get('status')})")

    # -- %tz_datasets ----------------------------------------------------------------------

    @magic_arguments()
    @argument("--type", help="Only this type (image_classification, object_detection, ...).")
    @argument("--owner", help="Only datasets of this user.")
    @argument("--versions", action="store_true", help="List REF's published versions.")
    @argument(
        "ref",
        nargs="?",
        help="A dataset ([owner/]name): show it with its versions. Without it: list datasets.",
    )
    @line_magic
    def tz_datasets(self, line: str) -> Table:
        """List datasets, show one dataset, or list its versions.

        ::

            %tz_datasets                     # the datasets you may read
            %tz_datasets --type tabular      # filtered
            %tz_datasets pets                # one dataset and its versions
            %tz_datasets --versions pets     # only the versions
        """
        opts = parse_argstring(self.tz_datasets, line)
        if opts.versions and not opts.ref:
            raise UsageError(
                "%tz_datasets --versions needs a dataset, e.g. %tz_datasets --versions pets"
            )
        with _usage_errors():
            if not opts.ref:
                items = self.client.list_datasets(type=opts.type, owner=opts.owner)
                return Table(items, DATASET_COLUMNS, empty="no datasets")
            if opts.versions:
                versions = self.client.dataset_versions(opts.ref)
                return Table(versions, VERSION_COLUMNS, empty="no versions")
            dataset = self.client.get_dataset(opts.ref)
            versions = self.client.dataset_versions(dataset)
        return Table(
            versions, VERSION_COLUMNS, empty="no versions", fields=describe_dataset(dataset)
        )

    # -- %tz_models ------------------------------------------------------------------------

    @magic_arguments()
    @argument("--task", help="list: only this task (image_classification, regression, ...).")
    @argument("--stage", help="list: only models with a version in this stage.")
    @argument("--owner", help="list: only models of this user.")
    @argument("--dataset", help="compare: only evaluations on this dataset version.")
    @argument(
        "words",
        nargs="*",
        metavar="ACTION REF",
        help="Nothing or 'list [TEXT]' (models), 'show REF', 'versions REF', "
        "'compare REF REF ...'.",
    )
    @line_magic
    def tz_models(self, line: str) -> Table:
        """List models, show a model or a version, list versions, or compare versions.

        ::

            %tz_models                                   # the models you may read
            %tz_models --task image_classification       # filtered
            %tz_models list shapes                       # searched
            %tz_models show shapes-cnn                   # one model and its versions
            %tz_models show shapes-cnn:2                 # one version
            %tz_models versions shapes-cnn
            %tz_models compare shapes-cnn:1 shapes-cnn:2 --dataset shapes:V001
        """
        opts = parse_argstring(self.tz_models, line)
        action, refs = (opts.words[0], opts.words[1:]) if opts.words else ("list", [])
        with _usage_errors():
            if action == "list" and len(refs) <= 1:
                q = refs[0] if refs else None
                items = self.client.list_models(
                    q, task=opts.task, stage=opts.stage, owner=opts.owner
                )
                return Table(items, MODEL_COLUMNS, empty="no models")
            if action in ("show", "versions") and len(refs) == 1:
                return self._model_table(action, refs[0])
            if action == "compare" and refs:
                return comparison_table(self.client.compare_models(refs, opts.dataset))
        raise UsageError(
            "%tz_models takes nothing or 'list [TEXT]', 'show REF', 'versions REF' or "
            f"'compare REF REF ...', got {line.strip()!r}"
        )

    def _model_table(self, action: str, ref: str) -> Table:
        if action == "show" and parse_model_ref(ref)[2] is not None:
            version = self.client.get_model_version(ref)
            return Table([], MODEL_VERSION_COLUMNS, fields=describe_model_version(version))
        model = self.client.get_model(ref)
        versions = self.client.list_model_versions(model)
        fields = describe_model(model) if action == "show" else ()
        return Table(versions, MODEL_VERSION_COLUMNS, empty="no versions", fields=fields)


def comparison_table(comparison: Mapping[str, Any]) -> Table:
    """A model comparison as a :class:`Table` (one row per version, cells escaped in HTML).

    Parameters
    ----------
    comparison : dict
        From :meth:`Client.compare_models`.

    Returns
    -------
    Table
    """
    from .sdk_models import compare_table, format_value

    headers, rows = compare_table(comparison)
    # Positional keys: metric names may hold dots, which Table reads as nested fields.
    columns = [(header, f"c{i}") for i, header in enumerate(headers)]
    items = [{f"c{i}": format_value(v) for i, v in enumerate(row)} for row in rows]
    fields = [("dataset", str(comparison["dataset"]))] if comparison.get("dataset") else []
    return Table(items, columns, empty="nothing to compare", fields=fields)


# Without abbreviations, adding an option later cannot change what an old command meant.
# MagicArgumentParser takes no allow_abbrev argument; argparse reads the attribute when parsing.
for _magic in (
    TzMagics.tz_train,
    TzMagics.tz_jobs,
    TzMagics.tz_logs,
    TzMagics.tz_cancel,
    TzMagics.tz_datasets,
    TzMagics.tz_models,
):
    _magic.parser.allow_abbrev = False  # type: ignore[attr-defined]


def load_ipython_extension(ip: Any) -> None:
    """Register :class:`TzMagics` with an IPython shell.

    Parameters
    ----------
    ip : IPython.core.interactiveshell.InteractiveShell
        The shell, as passed by ``%load_ext``.
    """
    ip.register_magics(TzMagics)
