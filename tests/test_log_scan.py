"""After the whole suite: the logs hold no password, token, identity code or e-mail address.
(pytest_collection_modifyitems in conftest.py runs this last.)"""

from __future__ import annotations

import re

from tests.conftest import CapturedLogs
from tests.live import LOG_FILES, postgres_log_lines

PASSWORDS = [
    "correct horse battery",
    "pitkä salasana 123",
    "yrityksen salasana",
    "pm_1Nv0Ab2eZvKYlo2C",
]
PATTERNS = {
    "a JWT": re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]*"),
    "an identity code": re.compile(r"\b\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]\b"),
    "an e-mail address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "a bearer credential": re.compile(r"(?i)bearer\s+[\w\-.~+/]{20,}"),
    "a phone number": re.compile(r"(?<![\w.:-])(?:\+358\s?|0)4\d[\s]?\d{3}[\s]?\d{3,4}(?!\w)"),
}


def test_logs_hold_no_secrets_or_personal_data() -> None:
    lines = list(CapturedLogs.lines)
    for path in LOG_FILES:
        if path.exists():
            lines.extend(path.read_text(errors="replace").splitlines())
    assert len(lines) > 100, "the suite's logs were captured"
    database_lines = postgres_log_lines()
    assert database_lines, "the Postgres log was read"
    lines.extend(database_lines)
    for line in lines:
        for password in PASSWORDS:
            assert password not in line, line[:300]
        for name, pattern in PATTERNS.items():
            assert not pattern.search(line), f"{name} in a log line: {line[:300]}"
