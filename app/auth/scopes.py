"""The scopes of the API and which roles get them. The README's table is this module in prose."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "users:register": "Register new users (the frontend).",
    "users:read": "Read profiles and the register's data about users.",
    "users:write": "Change profiles and the register's data about users.",
    "identity-code:read": "Read a user's personal identity code in full.",
    "identity-code:write": "Store a personal identity code after strong identification.",
    "events:write": "Send event and analytics data.",
    "credentials:reset": "Issue and redeem password-reset tokens (the frontend, which e-mails "
    "them).",
    "register-updates:write": "Apply address, name and death updates from DVV and Posti.",
    "consents:read": "Read permissions and prohibitions.",
    "consents:write": "Record permissions and prohibitions.",
    "purposes:write": "Manage the purpose catalogue and its notice texts.",
    "audiences:read": "Read audiences of users who may be contacted for a purpose.",
    "recipients:write": "Manage the recipients of disclosures.",
    "disclosures:write": "Receive data releases (partners and group companies).",
    "disclosures:read": "Read the disclosure log (a user: who received their own data).",
    "disclosure-log:write": "Log disclosures made outside the API.",
    "requests:write": "Make data-subject requests (for oneself, or as staff on a user's behalf).",
    "requests:manage": "Handle data-subject requests: extend, verify, complete, reject.",
    "transparency:read": "Inclusion and consistency proofs of the transparency logs (a user: "
    "of their own disclosure entries).",
    "transparency:audit": "Read the transparency logs' entries and prove any of them (auditors).",
    "processing-records:read": "Read the record of processing activities (GDPR Art. 30).",
    "metrics:read": "Read the service's Prometheus metrics (/metrics).",
}

# A signed-in user (password grant): their own data only.
SUBJECT_SCOPES = frozenset(
    {
        "users:read",
        "users:write",
        "consents:read",
        "consents:write",
        "requests:write",
        "disclosures:read",
        "transparency:read",
    }
)

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "subject": SUBJECT_SCOPES,
    "frontend": frozenset(
        {"users:register", "credentials:reset", "events:write", "consents:read", "consents:write"}
    ),
    "partner": frozenset({"audiences:read", "disclosures:write"}),
    "staff": frozenset(
        {
            "users:read",
            "users:write",
            "identity-code:write",
            "consents:read",
            "consents:write",
            "disclosure-log:write",
            "requests:write",
        }
    ),
    "dpo": frozenset(SCOPES)
    - {"users:register", "credentials:reset", "events:write", "disclosures:write"},
    "integration": frozenset({"register-updates:write"}),
    "monitoring": frozenset({"metrics:read"}),
}

ROLE_DESCRIPTIONS: dict[str, str] = {
    "subject": "A user signed in through the frontend (password grant); only their own data.",
    "frontend": "The auction frontend's backend: registers users, records their sign-up "
    "decisions, sends events, signs users in, resets their passwords.",
    "partner": "A group company or partner integration: audiences and data releases only.",
    "staff": "Customer-service staff: any user's data by scope, never identity codes in full.",
    "dpo": "The data protection officer: everything but acting as frontend or partner.",
    "integration": "The DVV and Posti update feeds.",
    "monitoring": "A Prometheus scraper: the metrics only.",
}


def parse_scope(value: str | None) -> set[str]:
    return {part for part in (value or "").split(" ") if part}


def format_scope(scopes: set[str] | frozenset[str]) -> str:
    return " ".join(sorted(scopes))


def markdown_table() -> str:
    """The README's table of scopes and roles (``registry scopes`` prints it)."""
    roles = list(ROLE_SCOPES)
    lines = [
        "| scope | what it allows | " + " | ".join(roles) + " |",
        "| --- | --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for scope, description in SCOPES.items():
        marks = " | ".join("✓" if scope in ROLE_SCOPES[role] else "" for role in roles)
        lines.append(f"| `{scope}` | {description} | {marks} |")
    lines += ["", "| role | who |", "| --- | --- |"]
    lines += [f"| `{role}` | {text} |" for role, text in ROLE_DESCRIPTIONS.items()]
    return "\n".join(lines) + "\n"
