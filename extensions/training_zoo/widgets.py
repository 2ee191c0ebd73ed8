"""Notebook widgets for training jobs.

Exports
-------
JobMonitor(ipywidgets.VBox)
    Live view of one job: header with a status badge, the tail of the logs (per-rank prefix), a
    metrics chart, a Cancel button and an inline error line. ``monitor.status`` follows the job.
metrics_svg(series, *, width=..., height=...) -> str
    The chart as inline SVG: one polyline per metric, no plotting library needed.
STATUS_COLORS

Everything goes through :class:`training_zoo.client.Client` (the REST API), never the backends.
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode

from .client import TERMINAL_STATUSES, Client, EventStream, TzClientError

__all__ = ["STATUS_COLORS", "JobMonitor", "metrics_svg"]

STATUS_COLORS: dict[str, str] = {
    "pending": "#757575",
    "queued": "#ef6c00",
    "running": "#1565c0",
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "cancelled": "#424242",
}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_MAX_POINTS = 2000
_MAX_DRAWN = 400
_RENDER_EVERY = 0.25


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _downsample(points: Sequence[tuple[float, float]], limit: int) -> Sequence[tuple[float, float]]:
    if len(points) <= limit:
        return points
    stride = len(points) / limit
    picked = [points[int(i * stride)] for i in range(limit - 1)]
    return [*picked, points[-1]]


def metrics_svg(
    series: Mapping[str, Sequence[tuple[float, float]]], *, width: int = 480, height: int = 160
) -> str:
    """Draw metric series as one inline SVG with a legend.

    Each metric gets its own vertical scale (loss and accuracy differ by orders of magnitude); the
    legend gives the latest value and the range, so the numbers stay readable.

    Parameters
    ----------
    series : mapping of str to sequence of (step, value)
        Points per metric name, in step order.
    width, height : int
        Size of the plot area in pixels.

    Returns
    -------
    str
        HTML: an ``<svg>`` with one ``<polyline>`` per metric, followed by a legend. Empty string
        when there is nothing to draw.
    """
    drawable = {k: list(v) for k, v in series.items() if v}
    if not drawable:
        return ""
    steps = [step for points in drawable.values() for step, _ in points]
    x0, x1 = min(steps), max(steps)
    pad = 6
    parts = [
        f'<svg class="jp-tz-JobMonitor-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="none" stroke="#ddd"/>',
    ]
    legend = []
    for i, (key, points) in enumerate(sorted(drawable.items())):
        color = _PALETTE[i % len(_PALETTE)]
        values = [v for _, v in points]
        lo, hi = min(values), max(values)
        coords = []
        for step, value in _downsample(points, _MAX_DRAWN):
            x = pad + (step - x0) / (x1 - x0) * (width - 2 * pad) if x1 > x0 else width / 2
            # A constant series sits in the middle instead of dividing by zero.
            frac = (value - lo) / (hi - lo) if hi > lo else 0.5
            y = height - pad - frac * (height - 2 * pad)
            coords.append(f"{x:.1f},{y:.1f}")
        name = html.escape(key)
        parts.append(
            f'<polyline data-metric="{name}" fill="none" stroke="{color}" stroke-width="1.5" '
            f'points="{" ".join(coords)}"><title>{name}</title></polyline>'
        )
        legend.append(
            f'<span style="color:{color}">&#9632;</span> {name} '
            f"<b>{values[-1]:.4g}</b> <small>({lo:.4g} – {hi:.4g})</small>"
        )
    parts.append("</svg>")
    return "".join(parts) + '<div style="font-size:90%">' + " &nbsp; ".join(legend) + "</div>"


class JobMonitor(widgets.VBox):
    """Live monitor of a training job.

    A daemon thread follows the log stream (SSE) and another polls the job and its metrics about
    once per ``poll_interval``; both stop when the job has finished. Errors are shown inline; the
    monitor keeps polling through transient ones and stops on 403/404.

    Parameters
    ----------
    job : dict or str
        A Job (as returned by :meth:`Client.train`) or a job id.
    client : Client, optional
        Default ``Client()`` from the environment.
    max_lines : int
        Log lines kept and shown.
    poll_interval : float
        Seconds between job/metrics polls.
    autostart : bool
        Start the background threads now (tests may want to call :meth:`start` themselves).

    Attributes
    ----------
    status : str
        The job's latest status (a traitlet: ``monitor.observe(cb, "status")`` works).
    job : dict
        The latest Job seen.
    """

    status = Unicode("", help="Latest status of the job.")
    job_id = Unicode("", help="Id of the monitored job.")

    def __init__(
        self,
        job: Mapping[str, Any] | str,
        client: Client | None = None,
        *,
        max_lines: int = 200,
        poll_interval: float = 1.0,
        autostart: bool = True,
        **kwargs: Any,
    ) -> None:
        self.client = client if client is not None else Client()
        self.job: dict[str, Any] = dict(job) if isinstance(job, Mapping) else {"id": str(job)}
        self.poll_interval = poll_interval
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._series: dict[str, list[tuple[float, float]]] = {}
        self._metrics_cursor: str | None = None
        # Metric name -> the rank whose points are drawn (see _add_metrics).
        self._series_rank: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._logs_live = True
        self._logs_dirty = False
        self._last_render = 0.0
        self._error_text = ""
        self._log_stream: EventStream[tuple[int, str]] | None = None

        self._header = widgets.HTML()
        self._cancel = widgets.Button(
            description="Cancel", icon="stop", button_style="danger", tooltip="Cancel this job"
        )
        self._cancel.on_click(lambda _button: self.cancel())
        self._error = widgets.HTML(layout=widgets.Layout(display="none"))
        self._log_view = widgets.HTML()
        self._chart = widgets.HTML()
        top = widgets.HBox(
            [self._header, self._cancel],
            layout=widgets.Layout(justify_content="space-between", align_items="center"),
        )
        super().__init__(children=[top, self._error, self._chart, self._log_view], **kwargs)
        self.add_class("jp-tz-JobMonitor")
        self.job_id = self.job["id"]
        self._apply_job(self.job)
        self._render_logs(force=True)
        if autostart:
            self.start()

    def __repr__(self) -> str:
        return f"JobMonitor(job={self.job_id!r}, status={self.status!r})"

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether the job has reached a final status."""
        return self.status in TERMINAL_STATUSES

    def start(self) -> None:
        """Start following the job in background daemon threads (no-op when already running)."""
        if any(t.is_alive() for t in self._threads):
            return
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._poll_loop, name=f"tz-monitor-{self.job_id}", daemon=True),
            threading.Thread(target=self._logs_loop, name=f"tz-logs-{self.job_id}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop updating and release the log stream; the widget keeps showing what it has."""
        self._stop.set()
        if self._log_stream is not None:
            self._log_stream.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background threads have stopped.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most.

        Returns
        -------
        bool
            True when updating has stopped (normally: the job finished), False on timeout.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self._threads)

    def close(self) -> None:
        """Stop the threads and close the widget and its children."""
        self.stop()
        for child in (self._header, self._cancel, self._error, self._log_view, self._chart):
            child.close()
        super().close()

    def cancel(self) -> None:
        """Cancel the job; failures are shown in the error line."""
        self._cancel.disabled = True
        try:
            self._apply_job(self.client.cancel_job(self.job_id))
            self._show_error("")
        except TzClientError as exc:
            self._show_error(str(exc))
            self._cancel.disabled = self.finished

    # -- background work -------------------------------------------------------------------

    def _poll_loop(self) -> None:
        # Runs in a daemon thread: nothing above it would see an exception, so every failure is
        # shown in the widget instead.
        try:
            while not self._stop.is_set():
                try:
                    self._apply_job(self.client.get_job(self.job_id))
                    # Metrics after the status: once the job is final, this fetch has them all.
                    items, self._metrics_cursor = self.client.poll_job_metrics(
                        self.job_id, self._metrics_cursor
                    )
                    self._add_metrics(items)
                    if not self._logs_live:
                        self._replace_logs(
                            self.client.get_job_logs(self.job_id, tail=self._lines.maxlen)
                        )
                    self._show_error("")
                except TzClientError as exc:
                    self._show_error(str(exc))
                    if exc.status in (401, 403, 404):
                        break
                if self.finished:
                    break
                self._stop.wait(self.poll_interval)
        except Exception as exc:  # noqa: BLE001 - see the comment above
            self._show_error(f"monitor stopped: {exc!r}")
        finally:
            self._render_logs(force=True)

    def _logs_loop(self) -> None:
        try:
            stream = self.client.get_job_logs(self.job_id, follow=True, tail=self._lines.maxlen)
            self._log_stream = stream
            if self._stop.is_set():
                # stop() ran while the stream was opening and could not close it.
                stream.close()
            for rank, line in stream:
                with self._lock:
                    self._lines.append(f"[{rank}] {line}")
                    self._logs_dirty = True
                self._render_logs()
                if self._stop.is_set():
                    break
        except TzClientError as exc:
            self._show_error(f"log stream: {exc}")
        except Exception as exc:  # noqa: BLE001 - a daemon thread has nobody to raise to
            self._show_error(f"log stream stopped: {exc!r}")
        finally:
            # Without a stream, the poll loop refreshes the tail until the job ends.
            self._logs_live = False
            self._render_logs(force=True)

    # -- state → view ----------------------------------------------------------------------

    def _apply_job(self, job: Mapping[str, Any]) -> None:
        self.job = dict(job)
        status = str(job.get("status") or "unknown")
        color = STATUS_COLORS.get(status, "#757575")
        detail = job.get("message") or (job.get("reason") if status != "succeeded" else None)
        world = job.get("world_size")
        parts = [
            f"<b>{html.escape(str(job.get('name') or ''))}</b>",
            f"<code>{html.escape(str(job.get('id', '')))}</code>",
            f'<span class="jp-tz-JobMonitor-badge" style="background:{color};color:#fff;'
            f'border-radius:4px;padding:1px 6px">{html.escape(status)}</span>',
        ]
        if world:
            parts.append(f"<small>world size {int(world)}</small>")
        if job.get("queue_position"):
            parts.append(f"<small>queue position {int(job['queue_position'])}</small>")
        if detail:
            parts.append(f"<small>{html.escape(str(detail))}</small>")
        self._header.value = " ".join(parts)
        self._cancel.disabled = status in TERMINAL_STATUSES
        self.status = status

    def _add_metrics(self, items: Sequence[Mapping[str, Any]]) -> None:
        if not items:
            return
        for item in items:
            rank = int(item.get("rank") or 0)
            for key, value in (item.get("values") or {}).items():
                if not _is_number(value):
                    continue
                name = str(key)
                # Every rank may log the same metric; interleaving them would draw a zigzag, so
                # each metric is drawn from the lowest rank reporting it (rank 0 by convention).
                shown = self._series_rank.setdefault(name, rank)
                if rank > shown:
                    continue
                if rank < shown:
                    self._series_rank[name] = rank
                    self._series[name] = []
                points = self._series.setdefault(name, [])
                step = item.get("step")
                x = float(step) if _is_number(step) else float(len(points))
                points.append((x, float(value)))
                if len(points) > _MAX_POINTS:
                    del points[: len(points) - _MAX_POINTS]
        self._chart.value = metrics_svg(self._series)

    def _replace_logs(self, lines: Sequence[tuple[int, str]]) -> None:
        with self._lock:
            self._lines.clear()
            self._lines.extend(f"[{rank}] {line}" for rank, line in lines)
            self._logs_dirty = True
        self._render_logs()

    def _render_logs(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            # Re-rendering per line would flood the frontend with messages on chatty jobs.
            if not force and (not self._logs_dirty or now - self._last_render < _RENDER_EVERY):
                return
            text = "\n".join(self._lines)
            self._logs_dirty = False
            self._last_render = now
        if not text:
            text = "(no log lines yet)"
        self._log_view.value = (
            '<pre class="jp-tz-JobMonitor-logs" style="max-height:20em;overflow:auto;'
            f'margin:0">{html.escape(text)}</pre>'
        )

    def _show_error(self, message: str) -> None:
        self._error_text = message
        if message:
            self._error.value = (
                f'<span style="color:{STATUS_COLORS["failed"]}">&#9888; '
                f"{html.escape(message)}</span>"
            )
            self._error.layout.display = ""
        elif self._error.layout.display != "none":
            self._error.value = ""
            self._error.layout.display = "none"

    @property
    def log_lines(self) -> list[str]:
        """The log lines currently shown, each prefixed with ``[rank]``."""
        with self._lock:
            return list(self._lines)

    @property
    def error(self) -> str:
        """The error line's text, empty when none is shown."""
        return self._error_text
