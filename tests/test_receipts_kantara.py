"""Consent receipts against the Kantara Consent Receipt v1.1 JSON Schema (draft-04), checked by
`jsonschema`, a validator someone else wrote. The schema is public reference data, so it is not
committed here: it is read from `shared/schemas/` beside the repository, or from a local git
mirror of `KantaraInitiative/consent-receipt-v-next` (`CR_v1_1/`), and the test says so when
neither is there."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Actors, bearer

SCHEMA = Path(
    os.environ.get("KANTARA_SCHEMA")
    or Path(__file__).resolve().parents[2]
    / "shared"
    / "schemas"
    / "kantara-consent-receipt-v1_1-schema.json"
)
# Or a local mirror of the public repository (the tool library's, on the machines that have it).
MIRROR = Path("/work/.mirror/KantaraInitiative+consent-receipt-v-next/repo")
IN_REPOSITORY = "HEAD:CR_v1_1/kantara-consent-receipt-v1_1-schema.json"


def _published_text() -> str | None:
    if SCHEMA.exists():
        return SCHEMA.read_text(encoding="utf-8")
    if MIRROR.exists():
        shown = subprocess.run(  # noqa: S603 (git on a local mirror, a fixed path)
            ["git", "-C", str(MIRROR), "show", IN_REPOSITORY],  # noqa: S607
            capture_output=True,
            text=True,
        )
        if shown.returncode == 0:
            return shown.stdout
    return None


def kantara_schema() -> dict[str, Any]:
    text = _published_text()
    if text is None:
        pytest.skip(f"the Kantara schema is neither in {SCHEMA} nor in a mirror at {MIRROR}")
    # The published file starts with // comment lines, which JSON does not allow.
    text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
    return dict(json.loads(text))


async def test_every_kind_of_receipt_validates(client: httpx.AsyncClient, actors: Actors) -> None:
    from jsonschema import Draft4Validator

    validator = Draft4Validator(kantara_schema())
    dpo = bearer(await actors.client_token("dpo"))
    staff = bearer(await actors.client_token("staff"))
    user_id, token = await actors.user_with_token()
    await client.patch("/v1/users/me", json={"language": "sv"}, headers=bearer(token))
    bodies = [
        (
            bearer(token),
            "me",
            "settings_page",
            [("direct_marketing", "email", "granted"), ("analytics", None, "granted")],
        ),
        (bearer(token), "me", "settings_page", [("group_direct_marketing", None, "prohibited")]),
        (staff, str(user_id), "customer_service_call", [("market_research", "phone", "withdrawn")]),
        (staff, str(user_id), "letter", [("direct_marketing", None, "allowed")]),
    ]
    receipts = []
    for headers, ref, source, items in bodies:
        recorded = await client.post(
            f"/v1/users/{ref}/permissions",
            json={
                "source": source,
                "language": "sv",
                "decisions": [
                    {"purpose": p, "channel": c, "decision": d, "notice_version": 1}
                    for p, c, d in items
                ],
            },
            headers=headers,
        )
        assert recorded.status_code == 201, recorded.text
        receipts.append(recorded.json()["receipt_id"])
    made = await client.post(
        "/v1/users/me/requests", json={"type": "objection"}, headers=bearer(token)
    )
    assert made.status_code == 201
    history = (await client.get("/v1/users/me/permissions/history", headers=bearer(token))).json()
    receipts += [item["receipt_id"] for item in history["items"]]
    for receipt_id in dict.fromkeys(receipts):
        document = (await client.get(f"/v1/consent-receipts/{receipt_id}", headers=dpo)).json()
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
