"""Prometheus metrics: request counts and latency by route template, the sequencer's lag."""

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
