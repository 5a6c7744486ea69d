"""Prometheus metrics: request counts and latency by route template, the sequencer's lag, the
replica's lag.

With several workers (``registry serve --workers N``) every worker writes its figures to
``PROMETHEUS_MULTIPROC_DIR`` (set by the supervisor) and ``/metrics``, whichever worker answers,
sums them all (prometheus-client's multiprocess mode); a gauge tells the highest value of the
workers alive: a worker forgets its own figures when it stops, and one starting forgets those of
workers that died (and were restarted by the supervisor)."""

import os
from pathlib import Path

import psutil
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "registry_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "registry_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TRANSPARENCY_LAG = Histogram(
    "registry_transparency_lag_seconds",
    "Seconds from a log entry's insert to its leaf in a signed checkpoint.",
    ["log"],
    buckets=(0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)

TRANSPARENCY_OLDEST_QUEUED = Gauge(
    "registry_transparency_oldest_queued_seconds",
    "Age of the oldest entry waiting for the sequencer (alert when it passes a few seconds).",
    ["log"],
    multiprocess_mode="livemax",
)
REPLICA_LAG = Gauge(
    "registry_replica_lag_seconds",
    "How far the read replica is behind the primary, as last measured (-1: unreachable).",
    multiprocess_mode="livemax",
)
REPLICA_READS = Counter(
    "registry_replica_reads_total",
    "Bulk reads by where they were served: the replica, or the primary because it was behind "
    "or away.",
    ["served_by"],
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def forget_dead_workers() -> None:
    """Drops the live gauges of workers that died without stopping (SIGKILL, out of memory)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    pids = set()
    for path in Path(directory).glob("*_*.db"):
        number = path.stem.rsplit("_", 1)[-1]
        if number.isdigit():
            pids.add(int(number))
    for pid in pids:
        if not psutil.pid_exists(pid):
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def worker_exited() -> None:
    """Drops this worker's live gauges from the shared directory (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
