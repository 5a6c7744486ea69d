"""The RateLimit header fields (IETF draft-ietf-httpapi-ratelimit-headers-10): each quota a
request counted against, told to the client on the answer, so that it can slow down before it is
refused. ``RateLimit-Policy: "name";q=<quota>;w=<window s>`` and ``RateLimit:
"name";r=<remaining>;t=<seconds to reset>``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": "The quotas this endpoint counts against (IETF RateLimit draft).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "What is left of each quota and when it resets (IETF RateLimit draft).",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Quota:
    policy: str
    quota: int
    window: int  # seconds
    remaining: int
    reset: int  # seconds until the window resets


def headers(quotas: Iterable[Quota]) -> dict[str, str]:
    quotas = list(quotas)
    if not quotas:
        return {}
    return {
        "RateLimit-Policy": ", ".join(f'"{q.policy}";q={q.quota};w={q.window}' for q in quotas),
        "RateLimit": ", ".join(f'"{q.policy}";r={q.remaining};t={q.reset}' for q in quotas),
    }


def exhausted(policy: str, reset: int) -> dict[str, str]:
    """The RateLimit field of a refusal whose limit is not a fixed quota (e.g. sign-in backoff)."""
    return {"RateLimit": f'"{policy}";r=0;t={reset}'}


def counted(info: dict[str, Any]) -> list[Quota]:
    """The quotas a request's session counted against (``session.info``)."""
    return list(info.get("rate_limits", []))
