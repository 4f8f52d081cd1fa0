"""Every figure a run reports, by its path in the metrics object, with its English name and unit.

The command line, the comparison of a simulated and a live run, the app's
cards and tables and the lessons' `{{block.path}}` placeholders all name a
figure by the same dotted path and read it here, so a figure is added,
renamed or labelled in one place. Other languages' labels live in the
catalogs under `metric.<path>`; a test checks each path has one in each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["count", "ms", "share", "per_s", "s"]
TOTAL = "all"


@dataclass(frozen=True)
class Measure:
    path: str                           # dotted, into the metrics object: "wait_ms.p95"
    label: str                          # in English, standing alone: "p95 wait (ms)"
    unit: Unit = "count"
    lower_is_better: bool | None = None  # None: neither (how many requests came)

    def read(self, metrics: Mapping[str, Any]) -> int | float | None:
        """The figure in `metrics`; None where the run has none (no waits, no theory for this pool).

        `<table>.all` is the total of a table of counts: errors.all is every error of any kind.
        """
        node: Any = metrics
        for part in self.path.split("."):
            if part == TOTAL and isinstance(node, Mapping) and TOTAL not in node:
                return sum(node.values())
            node = node.get(part) if isinstance(node, Mapping) else None
        return node if isinstance(node, int | float) and not isinstance(node, bool) else None

    @property
    def short(self) -> str:
        """Its name within its group on the command line: "p95" under "wait ms", "errors" for errors.all."""
        parts = self.path.split(".")
        return (parts[-2] if parts[-1] == TOTAL else parts[-1]).replace("_", " ")


MEASURES: dict[str, Measure] = {m.path: m for m in [
    Measure("requests", "Requests"),
    Measure("completed", "Completed", lower_is_better=False),
    Measure("timed_out", "Timed out", lower_is_better=True),
    Measure("errors.all", "Errors", lower_is_better=True),
    Measure("in_flight", "Still in flight at the end"),
    Measure("leaked", "Leaked", lower_is_better=True),
    Measure("errors.too_many_clients", "Too many clients", lower_is_better=True),
    Measure("errors.broken", "Broken connections", lower_is_better=True),
    Measure("errors.refused", "Refused", lower_is_better=True),
    Measure("errors.query_timeout", "Query timeouts", lower_is_better=True),
    Measure("errors.query_wait_timeout", "PgBouncer query_wait_timeout", lower_is_better=True),
    Measure("errors.max_client_conn", "PgBouncer max_client_conn", lower_is_better=True),
    Measure("errors.login_failing", "PgBouncer server login failing", lower_is_better=True),
    Measure("errors.statement_mode", "Transaction in statement mode", lower_is_better=True),
    Measure("errors.prepared_missing", "Prepared statement missing", lower_is_better=True),
    Measure("errors.prepared_exists", "Prepared statement exists already", lower_is_better=True),
    Measure("errors.other", "Other errors", lower_is_better=True),
    Measure("connects", "Connects", lower_is_better=True),
    Measure("closes.overflow", "Closed: overflow"),
    Measure("closes.recycle", "Closed: recycle"),
    Measure("closes.idle", "Closed: idle"),
    Measure("closes.lifetime", "Closed: lifetime"),
    Measure("closes.max_queries", "Closed: max_queries"),
    Measure("closes.broken", "Closed: broken"),
    Measure("closes.max_idle", "Closed: MaxIdleConns full"),
    Measure("closes.invalidated", "Closed: invalidated"),
    Measure("pings.ok", "Pings ok"),
    Measure("pings.fail", "Pings failed", lower_is_better=True),
    Measure("leak_warnings", "Leak warnings", lower_is_better=True),
    Measure("p_wait", "Share that waited", "share", True),
    Measure("wait_ms.mean", "Mean wait (ms)", "ms", True),
    Measure("wait_ms.p50", "p50 wait (ms)", "ms", True),
    Measure("wait_ms.p95", "p95 wait (ms)", "ms", True),
    Measure("wait_ms.p99", "p99 wait (ms)", "ms", True),
    Measure("wait_ms.max", "Longest wait (ms)", "ms", True),
    Measure("latency_ms.mean", "Mean latency (ms)", "ms", True),
    Measure("latency_ms.p50", "p50 latency (ms)", "ms", True),
    Measure("latency_ms.p95", "p95 latency (ms)", "ms", True),
    Measure("latency_ms.p99", "p99 latency (ms)", "ms", True),
    Measure("latency_ms.max", "Longest latency (ms)", "ms", True),
    Measure("worker_wait_ms.mean", "Mean wait for a worker (ms)", "ms", True),
    Measure("worker_wait_ms.p50", "p50 wait for a worker (ms)", "ms", True),
    Measure("worker_wait_ms.p95", "p95 wait for a worker (ms)", "ms", True),
    Measure("worker_wait_ms.p99", "p99 wait for a worker (ms)", "ms", True),
    Measure("worker_wait_ms.max", "Longest wait for a worker (ms)", "ms", True),
    Measure("retries", "Retries (attempts after the first)", lower_is_better=True),
    Measure("retried_completed", "Completed after a retry"),
    Measure("retried_failed", "Failed after retrying", lower_is_better=True),
    Measure("peak.checked_out", "Peak checked out"),
    Measure("peak.open", "Peak connections"),
    Measure("peak.overflow", "Peak overflow"),
    Measure("peak.waiting", "Peak waiting"),
    Measure("peak.server", "Peak on the server"),
    Measure("peak.worker_queue", "Peak queued for a worker"),
    Measure("status_overflow", "Highest overflow() reading (open - pool_size)"),
    Measure("throughput_per_s", "Throughput (per s)", "per_s", False),
    Measure("duration_s", "Scenario time (s)", "s"),
    Measure("pooler.cl_active", "PgBouncer peak cl_active"),
    Measure("pooler.cl_waiting", "PgBouncer peak cl_waiting", lower_is_better=True),
    Measure("pooler.sv_active", "PgBouncer peak sv_active"),
    Measure("pooler.sv_idle", "PgBouncer peak sv_idle"),
    Measure("pooler.sv_tested", "PgBouncer peak sv_tested"),
    Measure("pooler.sv_login", "PgBouncer peak sv_login"),
    Measure("pooler.maxwait_ms", "PgBouncer longest maxwait (ms)", "ms", True),
    Measure("theory.utilisation", "Utilisation (Erlang C)", "share"),
    Measure("theory.p_wait", "Share that waits (Erlang C)", "share"),
    Measure("theory.mean_wait_ms", "Mean wait (Erlang C, ms)", "ms"),
]}
"""In the order the command line and the comparison list them."""


def measure(path: str) -> Measure:
    """The figure at `path`; KeyError saying which paths exist when there is none."""
    try:
        return MEASURES[path]
    except KeyError:
        raise KeyError(f"no figure {path!r}; the figures are: {', '.join(MEASURES)}") from None


def group(prefix: str) -> list[Measure]:
    """The figures of the table at `prefix`, in order, without its total: "errors" -> errors.broken, ..."""
    return [m for p, m in MEASURES.items() if p.startswith(prefix + ".") and p != f"{prefix}.{TOTAL}"]


def names(prefix: str) -> tuple[str, ...]:
    """The keys of the table at `prefix`: "errors" -> ("too_many_clients", "broken", ...)."""
    return tuple(m.path[len(prefix) + 1:] for m in group(prefix))


def shown(m: Measure, value: int | float | None) -> str:
    """A figure as the command line prints it: shares as percentages, times with one decimal."""
    if value is None:
        return "-"
    if m.unit == "share":
        return f"{value:.1%}"
    if m.unit == "per_s":
        return f"{value:.1f} per s"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}" if m.unit == "ms" and abs(value) < 10 else f"{value:.1f}"
