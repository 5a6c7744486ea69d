"""A client generated from our OpenAPI document by `openapi-python-client` is a user too: its
names and types are part of the API. The test generates one and runs the integrators' smoke
script through it against a real server: register, sign in, read the profile, record a decision,
read the receipt, make an access request, download the JSON export and the zip, release data as
a partner."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth import service as auth_service
from tests.live import ROOT, LiveService

pytestmark = pytest.mark.slow

# The generator's own setting: application/zip is bytes (it knows octet-stream by name).
CONFIG = "content_type_overrides:\n  application/zip: application/octet-stream\n"


@pytest.fixture(scope="module")
def registry_client() -> Iterator[Any]:
    where = Path(tempfile.mkdtemp(prefix="registry-client-"))
    (where / "config.yaml").write_text(CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    subprocess.run(  # noqa: S603 (the generator from our own virtualenv)
        [
            str(generator),
            "generate",
            "--path",
            str(ROOT / "openapi" / "openapi.json"),
            "--meta",
            "none",
            "--config",
            str(where / "config.yaml"),
            "--output-path",
            str(where / "registry_client"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=where,
    )
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("registry_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture
async def live(fresh_database) -> AsyncIterator[LiveService]:  # type: ignore[no-untyped-def]
    """A server on a database of its own: what it commits touches no other test."""
    url = await fresh_database()
    service = LiveService(
        url, registrations_per_minute="100000", registrations_per_address_per_hour="100000"
    ).start()
    yield service
    service.stop()


async def _client(url: str, role: str) -> tuple[str, str]:
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session, session.begin():
        made = await auth_service.create_client(
            session, name=f"smoke {role}", role=role, scopes=None
        )
    await engine.dispose()
    return made


def _api(name: str) -> Any:
    return importlib.import_module(f"registry_client.api.{name}")


def _model(name: str) -> Any:
    return getattr(importlib.import_module("registry_client.models"), name)


async def test_the_smoke_script_through_a_generated_client(
    registry_client: Any, live: LiveService
) -> None:
    url = live.env["REGISTRY_DATABASE_URL"]
    frontend = await _client(url, "frontend")
    dpo = await _client(url, "dpo")
    partner = await _client(url, "partner")
    plain = registry_client.Client(base_url=live.url)
    issue_token = _api("auth.issue_token")
    body_issue_token = _model("BodyIssueToken")

    def token(client_id: str, secret: str, **grant: str) -> str:
        issued = issue_token.sync(
            client=plain,
            body=body_issue_token(
                client_id=client_id,
                client_secret=secret,
                grant_type=grant.pop("grant_type", "client_credentials"),
                **grant,
            ),
        )
        assert type(issued).__name__ == "TokenResponse", issued
        return str(issued.access_token)

    def authed(access_token: str) -> Any:
        return registry_client.AuthenticatedClient(base_url=live.url, token=access_token)

    as_dpo = authed(token(*dpo))
    recipient = _api("disclosures.create_recipient").sync(
        client=as_dpo,
        body=_model("RecipientCreate")(
            name="Konserniyhtiö Oy",
            kind=_model("RecipientCreateKind").GROUP_COMPANY,
            country="FI",
            purposes=["group_direct_marketing"],
            legal_basis=_model("RecipientCreateLegalBasis").LEGITIMATE_INTEREST,
            client_ids=[partner[0]],
        ),
    )
    assert type(recipient).__name__ == "RecipientCreated", recipient

    as_frontend = authed(token(*frontend))
    username = f"smoke-{uuid.uuid4().hex[:8]}"
    registered = _api("users.register_user").sync(
        client=as_frontend,
        body=_model("PrivateUserCreate")(
            kind="private",
            username=username,
            password="pitkä salasana 123",
            first_name="Savu",
            last_name="Testi",
        ),
        idempotency_key=str(uuid.uuid4()),
    )
    assert type(registered).__name__ == "PrivateUserRead", registered

    as_user = authed(
        token(*frontend, grant_type="password", username=username, password="pitkä salasana 123")
    )
    profile = _api("users.read_user").sync("me", client=as_user)
    assert profile.id == registered.id and profile.first_name == "Savu"

    decision_in = _model("DecisionIn")
    recorded = _api("permissions.record_decisions").sync(
        "me",
        client=as_user,
        body=_model("DecisionsIn")(
            source=_model("DecisionsInSource").SETTINGS_PAGE,
            language=_model("DecisionsInLanguage").FI,
            decisions=[
                decision_in(
                    purpose="group_direct_marketing",
                    decision=_model("DecisionInDecision").ALLOWED,
                    notice_version=1,
                )
            ],
        ),
    )
    assert type(recorded).__name__ == "RecordedDecisions", recorded
    receipt = _api("permissions.read_receipt").sync(recorded.receipt_id, client=as_user)
    assert receipt.consent_receipt_id == recorded.receipt_id

    request = _api("data_subject_requests.make_request").sync(
        "me",
        client=as_user,
        body=_model("RequestCreate")(type_=_model("RequestCreateType").ACCESS),
    )
    assert type(request).__name__ == "RequestRead", request

    document = _api("data_subject_requests.export_user").sync("me", client=as_user)
    assert type(document).__name__ == "ExportDocument", document
    profile = document.categories["basic_data"].tables["users"].rows[0]
    assert document.user_id == registered.id and profile["first_name"] == "Savu"
    archive = _api("data_subject_requests.export_user_zip").sync("me", client=as_user)
    assert type(archive).__name__ == "File", archive
    assert archive.payload.read(2) == b"PK"

    released = _api("disclosures.release_data").sync(
        client=authed(token(*partner)),
        body=_model("ReleaseRequest")(
            purpose="group_direct_marketing",
            categories=[_model("ReleaseRequestCategoriesItem").NAME],
            user_ids=[registered.id],
        ),
    )
    assert type(released).__name__ == "ReleaseResult", released
    assert [str(u.user_id) for u in released.released] == [str(registered.id)]
