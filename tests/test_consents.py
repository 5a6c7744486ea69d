"""Permissions and prohibitions: the rule, purposes and their versions, decisions with receipts,
the current state, audiences."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents import service
from app.consents.models import ConsentReceipt, ConsentState
from app.consents.purposes import text_hash
from app.consents.rules import (
    Permission,
    PurposeRule,
    Subject,
    effective_permission,
    law_fixed_basis,
    objection_scope,
)
from tests.conftest import Actors, bearer

ALL = ("email", "sms", "phone", "post")
DM = PurposeRule(
    "direct_marketing", "marketing", "legitimate_interest", direct_marketing=True, channels=ALL
)
GROUP_DM = PurposeRule(
    "group_direct_marketing",
    "marketing",
    "legitimate_interest",
    group_companies=True,
    direct_marketing=True,
    channels=ALL,
)
GROUP_DM_CONSENT = PurposeRule(
    "group_direct_marketing",
    "marketing",
    "consent",
    group_companies=True,
    direct_marketing=True,
    channels=ALL,
)
DISTANCE = PurposeRule(
    "distance_selling", "marketing", "legitimate_interest", direct_marketing=True, channels=ALL
)
RESEARCH = PurposeRule("market_research", "research", "legitimate_interest", channels=ALL)
LETTERS = PurposeRule(
    "customer_letters", "service", "legitimate_interest", channels=("email", "post")
)
ANALYTICS = PurposeRule("analytics", "analytics", "consent")
PROFILING = PurposeRule("marketing_profiling", "analytics", "consent", direct_marketing=True)
BILLING = PurposeRule("billing", "service", "legal_obligation")
RELATIONSHIP = PurposeRule("customer_relationship", "service", "contract")
CATALOGUE = [RELATIONSHIP, BILLING, LETTERS, DM, GROUP_DM, DISTANCE, RESEARCH, ANALYTICS, PROFILING]

PRIVATE = Subject("private")
COMPANY = Subject("company")
CLOSED = Subject("private", status="closed")
DECEASED = Subject("private", status="closed", deceased=True)
RESTRICTED = Subject("private", restricted=True)
ERASED = Subject("private", status="erased")

# subject, purpose, channel, purpose decision, channel decision -> allowed, reason
RULES = [
    # Private persons: e-mail and SMS marketing only with consent (opt-in).
    (PRIVATE, DM, "email", None, None, False, "default_opt_in_required"),
    (PRIVATE, DM, "sms", None, None, False, "default_opt_in_required"),
    (PRIVATE, DM, "email", None, "granted", True, "explicit_consent"),
    (PRIVATE, DM, "sms", "granted", None, True, "explicit_consent"),
    (PRIVATE, DM, "email", None, "withdrawn", False, "consent_withdrawn"),
    (PRIVATE, DM, "email", "granted", "withdrawn", False, "consent_withdrawn"),
    # The newer decision wins: see test_the_newer_of_purpose_and_channel_decisions_wins.
    (PRIVATE, DM, "email", None, "allowed", False, "default_opt_in_required"),
    # Companies: allowed unless prohibited (opt-out).
    (COMPANY, DM, "email", None, None, True, "default_opt_out_company"),
    (COMPANY, DM, "sms", None, None, True, "default_opt_out_company"),
    (COMPANY, DM, "email", "prohibited", None, False, "objection"),
    (COMPANY, DM, "email", "allowed", None, True, "prohibition_lifted"),
    # Phone and post: allowed unless prohibited, for everyone.
    (PRIVATE, DM, "phone", None, None, True, "default_allowed_unless_prohibited"),
    (PRIVATE, DM, "post", None, None, True, "default_allowed_unless_prohibited"),
    (COMPANY, DM, "post", None, None, True, "default_allowed_unless_prohibited"),
    (PRIVATE, DM, "phone", None, "prohibited", False, "objection"),
    (PRIVATE, DM, "post", "prohibited", None, False, "objection"),
    # An objection overrides every grant, at once.
    (PRIVATE, DM, "email", "prohibited", "granted", False, "objection"),
    (PRIVATE, DM, "email", "granted", "prohibited", False, "objection"),
    (COMPANY, DM, "email", "prohibited", "granted", False, "objection"),
    # Closed, deceased, restricted or erased: nothing for marketing, research or disclosure.
    (CLOSED, DM, "phone", None, None, False, "account_closed"),
    (CLOSED, DM, "email", None, "granted", False, "account_closed"),
    (DECEASED, DM, "post", None, None, False, "deceased"),
    (RESTRICTED, DM, "email", None, "granted", False, "processing_restricted"),
    (ERASED, DM, "post", None, None, False, "account_erased"),
    (CLOSED, RESEARCH, "email", None, None, False, "account_closed"),
    (RESTRICTED, GROUP_DM, "phone", None, None, False, "processing_restricted"),
    (CLOSED, LETTERS, "post", None, None, False, "account_closed"),
    # Legal obligations outlive the account; contracts do not.
    (CLOSED, BILLING, None, None, None, True, "legal_obligation"),
    (RESTRICTED, BILLING, None, None, None, True, "legal_obligation"),
    (DECEASED, BILLING, None, None, None, True, "legal_obligation"),
    (ERASED, BILLING, None, None, None, False, "account_erased"),
    (PRIVATE, RELATIONSHIP, None, None, None, True, "contract"),
    (CLOSED, RELATIONSHIP, None, None, None, False, "account_closed"),
    # Group companies: their own grant, or (legitimate interest) no prohibition; no exception.
    (PRIVATE, GROUP_DM, "email", None, None, False, "group_company_requires_own_grant"),
    (PRIVATE, GROUP_DM, "sms", None, None, False, "group_company_requires_own_grant"),
    (PRIVATE, GROUP_DM, "email", None, "granted", True, "explicit_consent"),
    (COMPANY, GROUP_DM, "email", None, None, True, "default_opt_out_company"),
    (PRIVATE, GROUP_DM, "phone", None, None, True, "default_allowed_unless_prohibited"),
    (PRIVATE, GROUP_DM, "phone", "prohibited", None, False, "objection"),
    (COMPANY, GROUP_DM_CONSENT, "email", None, None, False, "group_company_requires_own_grant"),
    (COMPANY, GROUP_DM_CONSENT, "post", None, None, False, "group_company_requires_own_grant"),
    (COMPANY, GROUP_DM_CONSENT, "post", None, "granted", True, "explicit_consent"),
    # Research and service letters on legitimate interest; analytics on consent.
    (PRIVATE, RESEARCH, "email", None, None, True, "default_allowed_unless_prohibited"),
    (PRIVATE, RESEARCH, "phone", "prohibited", None, False, "objection"),
    (PRIVATE, LETTERS, "email", None, None, True, "default_allowed_unless_prohibited"),
    (PRIVATE, LETTERS, "email", "prohibited", None, False, "objection"),
    (PRIVATE, ANALYTICS, None, None, None, False, "consent_required"),
    (PRIVATE, ANALYTICS, None, "granted", None, True, "explicit_consent"),
    (PRIVATE, ANALYTICS, None, "withdrawn", None, False, "consent_withdrawn"),
]


@pytest.mark.parametrize(
    ("subject", "purpose", "channel", "purpose_decision", "channel_decision", "allowed", "reason"),
    RULES,
)
def test_the_rule(
    subject: Subject,
    purpose: PurposeRule,
    channel: str | None,
    purpose_decision: str | None,
    channel_decision: str | None,
    allowed: bool,
    reason: str,
) -> None:
    assert effective_permission(
        subject,
        purpose,
        channel,
        purpose_decision=purpose_decision,
        channel_decision=channel_decision,
    ) == Permission(allowed, reason)


@pytest.mark.parametrize(
    ("purpose_decision", "channel_decision", "purpose_newer", "allowed", "reason"),
    [
        ("withdrawn", "granted", True, False, "consent_withdrawn"),
        ("withdrawn", "granted", False, True, "explicit_consent"),
        ("granted", "withdrawn", True, True, "explicit_consent"),
        ("granted", "withdrawn", False, False, "consent_withdrawn"),
        ("allowed", "prohibited", True, False, "objection"),
    ],
)
def test_the_newer_of_purpose_and_channel_decisions_wins(
    purpose_decision: str, channel_decision: str, purpose_newer: bool, allowed: bool, reason: str
) -> None:
    assert effective_permission(
        PRIVATE,
        DM,
        "email",
        purpose_decision=purpose_decision,
        channel_decision=channel_decision,
        purpose_decision_newer=purpose_newer,
    ) == Permission(allowed, reason)


# Every purpose category x kind of person x channel x decision. The expected answer is written
# from the law (shared/docs/domain.md), in the order a lawyer would check it.
def _by_law(
    purpose: PurposeRule, kind: str, channel: str | None, decision: str | None
) -> Permission:
    if purpose.legal_basis == "legal_obligation":
        return Permission(True, "legal_obligation")
    if purpose.legal_basis == "contract":
        return Permission(True, "contract")
    if decision == "prohibited":  # Art. 21: absolute
        return Permission(False, "objection")
    if decision == "granted":
        return Permission(True, "explicit_consent")
    if decision == "withdrawn":
        return Permission(False, "consent_withdrawn")
    electronic = purpose.direct_marketing and channel in ("email", "sms")
    if electronic and kind == "private":  # §200: opt-in, never via a group company
        reason = (
            "group_company_requires_own_grant"
            if purpose.group_companies
            else "default_opt_in_required"
        )
        return Permission(False, reason)
    if purpose.legal_basis == "consent":  # incl. analytics (§205)
        reason = (
            "group_company_requires_own_grant" if purpose.group_companies else "consent_required"
        )
        return Permission(False, reason)
    if decision == "allowed":
        return Permission(True, "prohibition_lifted")
    return Permission(
        True, "default_opt_out_company" if electronic else "default_allowed_unless_prohibited"
    )


PRODUCT = [
    (purpose, kind, channel, decision)
    for purpose in [*CATALOGUE, GROUP_DM_CONSENT]
    for kind in ("private", "company")
    for channel in (purpose.channels or (None,))
    for decision in (None, "granted", "withdrawn", "prohibited", "allowed")
]


@pytest.mark.parametrize(("purpose", "kind", "channel", "decision"), PRODUCT)
def test_every_category_kind_channel_and_decision(
    purpose: PurposeRule, kind: str, channel: str | None, decision: str | None
) -> None:
    assert effective_permission(
        Subject(kind), purpose, channel, channel_decision=decision
    ) == _by_law(purpose, kind, channel, decision)
    assert effective_permission(
        Subject(kind), purpose, channel, purpose_decision=decision
    ) == _by_law(purpose, kind, channel, decision)


def test_the_product_covers_every_category() -> None:
    assert {p.category for p, *_ in PRODUCT} == {"service", "marketing", "research", "analytics"}
    assert len(PRODUCT) > 200


@pytest.mark.parametrize(
    ("objected", "covered"),
    [
        # Art. 21(2)-(3): every direct-marketing purpose, own and group companies', profiling
        # for marketing included.
        (
            DM,
            {
                "direct_marketing",
                "group_direct_marketing",
                "distance_selling",
                "marketing_profiling",
            },
        ),
        (
            GROUP_DM,
            {
                "direct_marketing",
                "group_direct_marketing",
                "distance_selling",
                "marketing_profiling",
            },
        ),
        (
            PROFILING,
            {
                "direct_marketing",
                "group_direct_marketing",
                "distance_selling",
                "marketing_profiling",
            },
        ),
        # The register description's promise: research as a whole.
        (RESEARCH, {"market_research"}),
        (LETTERS, {"customer_letters"}),
        (ANALYTICS, {"analytics"}),
        # Contracts and legal obligations are not stopped by an objection.
        (BILLING, set()),
        (RELATIONSHIP, set()),
    ],
)
def test_what_an_objection_covers(objected: PurposeRule, covered: set[str]) -> None:
    assert {p.code for p in objection_scope(objected, CATALOGUE)} == covered


def test_consent_under_a_materially_changed_notice_no_longer_counts() -> None:
    changed = PurposeRule(
        "group_direct_marketing",
        "marketing",
        "consent",
        group_companies=True,
        direct_marketing=True,
        channels=ALL,
        material_version=3,
    )
    for version, expected in (
        (1, "reconsent_required"),
        (2, "reconsent_required"),
        (3, "explicit_consent"),
    ):
        assert (
            effective_permission(
                PRIVATE, changed, "email", channel_decision="granted", decision_version=version
            ).reason
            == expected
        )
    # A prohibition never lapses.
    assert effective_permission(
        PRIVATE, changed, "post", channel_decision="prohibited", decision_version=1
    ) == Permission(False, "objection")


@pytest.mark.parametrize(
    ("purpose", "fixed"),
    [
        (ANALYTICS, "consent"),
        (PROFILING, "consent"),
        (
            PurposeRule(
                "sms_offers", "marketing", "consent", direct_marketing=True, channels=("sms",)
            ),
            "consent",
        ),
        (DM, None),  # phone and post too: its basis is the DPO's to choose
        (RESEARCH, None),
    ],
)
def test_where_the_law_fixes_the_basis(purpose: PurposeRule, fixed: str | None) -> None:
    assert law_fixed_basis(purpose) == fixed


@pytest.fixture
async def partner(actors: Actors) -> dict[str, str]:
    token, _, _ = await actors.partner_token()
    return bearer(token)


def decisions(*items: tuple[str, str | None, str], source: str = "settings_page") -> dict:  # type: ignore[type-arg]
    return {
        "source": source,
        "language": "fi",
        "decisions": [
            {"purpose": p, "channel": c, "decision": d, "notice_version": 1} for p, c, d in items
        ],
    }


class TestPurposes:
    async def test_the_catalogue_is_seeded(self, client: httpx.AsyncClient, dpo) -> None:  # type: ignore[no-untyped-def]
        body = (await client.get("/v1/purposes", headers=dpo)).json()
        codes = {p["code"] for p in body["items"]}
        assert codes >= {
            "customer_relationship",
            "billing",
            "customer_letters",
            "direct_marketing",
            "group_direct_marketing",
            "distance_selling",
            "market_research",
            "analytics",
        }
        for purpose in body["items"]:
            version = purpose["current_version"]
            assert set(version["notice"]) == {"fi", "sv", "en"}
            assert version["text_hash"] == text_hash(
                version["notice"], version["legal_basis"], version["channels"]
            )

    async def test_a_new_text_is_a_new_version_and_the_old_stays(
        self, client: httpx.AsyncClient, dpo, actors: Actors
    ) -> None:  # type: ignore[no-untyped-def]
        old = (await client.get("/v1/purposes/market_research", headers=dpo)).json()
        notice = {
            "fi": "Uusi teksti markkinatutkimuksesta.",
            "sv": "Ny text om marknadsundersökningar.",
            "en": "A new text about market research.",
        }
        staff = bearer(await actors.client_token("staff"))
        denied = await client.patch(
            "/v1/purposes/market_research", json={"notice": notice}, headers=staff
        )
        assert denied.status_code == 403
        unsaid = await client.patch(
            "/v1/purposes/market_research", json={"notice": notice}, headers=dpo
        )
        assert unsaid.status_code == 422 and "material" in unsaid.json()["detail"]
        changed = await client.patch(
            "/v1/purposes/market_research", json={"notice": notice, "material": False}, headers=dpo
        )
        assert changed.status_code == 200
        assert changed.json()["current_version"]["version"] == 2
        assert changed.json()["current_version"]["material"] is False
        assert changed.json()["material_version"] == 1
        assert changed.json()["current_version"]["notice"] == notice
        first = await client.get("/v1/purposes/market_research/versions/1", headers=dpo)
        assert first.json() == old["current_version"]
        same = await client.patch(
            "/v1/purposes/market_research", json={"notice": notice}, headers=dpo
        )
        assert same.json()["current_version"]["version"] == 2, "no change, no new version"

    async def test_create_purpose(self, client: httpx.AsyncClient, dpo) -> None:  # type: ignore[no-untyped-def]
        body = {
            "code": "auction_alerts",
            "name_en": "Alerts of auctions in saved searches",
            "category": "marketing",
            "legal_basis": "consent",
            "channels": ["email", "sms"],
            "dpv_purpose": "dpv:DirectMarketing",
            "notice": {
                "fi": "Ilmoitamme tallennettuja hakuja vastaavista kohteista.",
                "sv": "Vi meddelar om objekt som motsvarar sparade sökningar.",
                "en": "We tell you of items that match your saved searches.",
            },
        }
        created = await client.post("/v1/purposes", json=body, headers=dpo)
        assert created.status_code == 201
        again = await client.post("/v1/purposes", json=body, headers=dpo)
        assert again.status_code == 409


class TestDecisions:
    async def test_grant_is_recorded_with_a_receipt_and_state(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        user_id, token = await actors.user_with_token()
        response = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "email", "granted")),
            headers={**bearer(token), "User-Agent": "Mozilla/5.0 test"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["decisions"][0]["channel"] == "email"
        email = next(p for p in body["permissions"] if p["channel"] == "email")
        assert (email["allowed"], email["reason"]) == (True, "explicit_consent")
        state = (await db.scalars(select(ConsentState))).one()
        assert (state.user_id, state.decision, state.channel) == (user_id, "granted", "email")
        receipt = (await db.scalars(select(ConsentReceipt))).one()
        assert receipt.id == uuid.UUID(body["receipt_id"])
        assert receipt.user_agent == "Mozilla/5.0 test"
        assert receipt.client_address_hash and "127.0.0.1" not in receipt.client_address_hash

    async def test_effective_state_says_why_for_every_purpose_and_channel(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        body = (await client.get("/v1/users/me/permissions", headers=bearer(token))).json()
        by_key = {(p["purpose"], p["channel"]): p for p in body["items"]}
        assert by_key[("direct_marketing", "email")]["reason"] == "default_opt_in_required"
        assert by_key[("direct_marketing", "phone")]["allowed"] is True
        assert by_key[("billing", None)]["reason"] == "legal_obligation"
        assert by_key[("analytics", None)]["reason"] == "consent_required"
        assert by_key[("group_direct_marketing", "email")]["legal_basis"] == "legitimate_interest"

    async def test_objection_overrides_a_grant_at_once(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "email", "granted")),
            headers=bearer(token),
        )
        response = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", None, "prohibited")),
            headers=bearer(token),
        )
        items = response.json()["permissions"]
        assert all(not p["allowed"] and p["reason"] == "objection" for p in items)

    @pytest.mark.parametrize(
        ("item", "message"),
        [
            (("direct_marketing", "fax", "granted"), None),
            (("customer_letters", "sms", "granted"), "does not use the channel"),
            (("billing", None, "prohibited"), "legal obligation"),
            (("customer_relationship", None, "withdrawn"), "contract"),
            (("no_such_purpose", None, "granted"), "No purpose"),
        ],
    )
    async def test_impossible_decisions_are_refused_whole(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession, item, message
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        body = decisions(("direct_marketing", "email", "granted"), item)
        response = await client.post("/v1/users/me/permissions", json=body, headers=bearer(token))
        assert response.status_code in (404, 422)
        assert response.headers["content-type"] == "application/problem+json"
        if message:
            assert message in response.json()["detail"]
        assert (await db.scalars(select(ConsentState))).all() == [], "nothing half-written"

    async def test_notice_version_must_exist(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        body = decisions(("direct_marketing", "email", "granted"))
        body["decisions"][0]["notice_version"] = 7
        response = await client.post("/v1/users/me/permissions", json=body, headers=bearer(token))
        assert response.status_code == 422
        assert "version 7" in response.json()["detail"]

    async def test_records_refuse_change(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        _, token = await actors.user_with_token()
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("analytics", None, "granted")),
            headers=bearer(token),
        )
        for statement in (
            "UPDATE consent_records SET decision = 'withdrawn'",
            "DELETE FROM consent_records",
            "UPDATE purpose_versions SET notice_fi = 'x'",
        ):
            with pytest.raises(Exception, match="append-only"):
                async with db.begin_nested():
                    await db.execute(text(statement))

    async def test_history_and_another_users_permissions(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        other = await actors.user()
        for decision in ("granted", "withdrawn", "granted"):
            await client.post(
                "/v1/users/me/permissions",
                json=decisions(("analytics", None, decision)),
                headers=bearer(token),
            )
        history = (
            await client.get("/v1/users/me/permissions/history", headers=bearer(token))
        ).json()
        assert [h["decision"] for h in history["items"]] == ["granted", "withdrawn", "granted"]
        assert all(h["source"] == "settings_page" for h in history["items"])
        for path in (f"/v1/users/{other}/permissions", f"/v1/users/{other}/permissions/history"):
            assert (await client.get(path, headers=bearer(token))).status_code == 404

    async def test_state_rebuilt_from_records_is_identical(
        self, client: httpx.AsyncClient, actors: Actors, db: AsyncSession
    ) -> None:
        sequence = [
            ("direct_marketing", "email", "granted"),
            ("direct_marketing", "email", "withdrawn"),
            ("direct_marketing", None, "prohibited"),
            ("market_research", "phone", "prohibited"),
            ("market_research", "phone", "allowed"),
            ("analytics", None, "granted"),
        ]
        for _ in range(3):
            _, token = await actors.user_with_token()
            for item in sequence:
                await client.post(
                    "/v1/users/me/permissions", json=decisions(item), headers=bearer(token)
                )
            await client.post(
                "/v1/users/me/permissions",
                json=decisions(
                    ("group_direct_marketing", "sms", "granted"), ("analytics", None, "withdrawn")
                ),
                headers=bearer(token),
            )
        # Each objection to direct marketing covers the group's and distance selling too.
        assert len((await db.scalars(select(ConsentState))).all()) == 3 * 7
        assert await service.states_match_records(db) == []
        await db.execute(text("UPDATE consent_states SET decision = 'granted'"))
        assert len(await service.states_match_records(db)) > 0, "the check can fail"


class TestReceipts:
    async def test_receipt_names_the_exact_notice_version_and_hash(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        recorded = await client.post(
            "/v1/users/me/permissions",
            json=decisions(
                ("direct_marketing", "email", "granted"),
                ("group_direct_marketing", None, "prohibited"),
                source="sign_up_form",
            ),
            headers=bearer(token),
        )
        receipt_id = recorded.json()["receipt_id"]
        own = await client.get(f"/v1/consent-receipts/{receipt_id}", headers=bearer(token))
        assert own.status_code == 200
        receipt = own.json()
        assert receipt["version"] == "KI-CR-v1.1.0"
        assert receipt["jurisdiction"] == "FI"
        assert receipt["collectionMethod"] == "sign_up_form"
        assert receipt["piiPrincipalId"] == str(user_id)
        assert receipt["piiControllers"][0]["piiController"] == "Mezzoforte Oy"
        purposes = receipt["services"][0]["purposes"]
        version = (await client.get("/v1/purposes/direct_marketing/versions/1", headers=dpo)).json()
        dm = next(p for p in purposes if p["purposeCode"] == "direct_marketing")
        assert dm["notice"] == {
            "version": 1,
            "language": "fi",
            "text": version["notice"]["fi"],
            "textHash": version["text_hash"],
        }
        assert dm["purposeCategory"] == ["dpv:DirectMarketing"]
        group = next(p for p in purposes if p["purposeCode"] == "group_direct_marketing")
        assert group["thirdPartyDisclosure"] is True
        assert receipt["iso27560"]["processing"]["storage_location"] == "EU/EEA"
        assert {e["state"] for e in receipt["iso27560"]["events"]} == {"active", "refused"}
        by_dpo = await client.get(f"/v1/consent-receipts/{receipt_id}", headers=dpo)
        assert by_dpo.json() == receipt

    async def test_another_users_receipt_is_404(
        self, client: httpx.AsyncClient, actors: Actors
    ) -> None:
        _, token = await actors.user_with_token()
        _, other_token = await actors.user_with_token()
        recorded = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("analytics", None, "granted")),
            headers=bearer(token),
        )
        response = await client.get(
            f"/v1/consent-receipts/{recorded.json()['receipt_id']}", headers=bearer(other_token)
        )
        assert response.status_code == 404


class TestAudiences:
    async def _audience(
        self, client: httpx.AsyncClient, headers, purpose: str, channel: str
    ) -> list[str]:  # type: ignore[no-untyped-def]
        ids: list[str] = []
        cursor = None
        while True:
            params = {"channel": channel, "limit": 2, **({"cursor": cursor} if cursor else {})}
            response = await client.get(f"/v1/audiences/{purpose}", params=params, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            ids.extend(item["user_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return ids

    async def test_opt_in_for_private_and_opt_out_for_companies(
        self, client: httpx.AsyncClient, actors: Actors, partner
    ) -> None:  # type: ignore[no-untyped-def]
        silent_private = [await actors.user(email=f"p{i}@example.fi") for i in range(3)]
        granted_id, granted_token = await actors.user_with_token()
        await client.patch(
            "/v1/users/me", json={"email": "yes@example.fi"}, headers=bearer(granted_token)
        )
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "email", "granted")),
            headers=bearer(granted_token),
        )
        companies = [
            await actors.user(kind="company", business_id=b, email=f"c{i}@example.fi")
            for i, b in enumerate(("2077474-0", "0737546-2", "1234567-1"))
        ]
        for channel in ("email", "sms"):
            members = await self._audience(client, partner, "direct_marketing", channel)
            assert not {str(u) for u in silent_private} & set(members), channel
        email = await self._audience(client, partner, "direct_marketing", "email")
        assert str(granted_id) in email
        assert {str(c) for c in companies} <= set(email)
        assert len(email) == len(set(email)) == 4

    async def test_only_the_channels_contact_field(
        self, client: httpx.AsyncClient, actors: Actors, partner
    ) -> None:  # type: ignore[no-untyped-def]
        await actors.user(kind="company", email="c@example.fi", phone="0405700736")
        page = (
            await client.get(
                "/v1/audiences/direct_marketing", params={"channel": "sms"}, headers=partner
            )
        ).json()
        assert page["items"][0]["contact"] == {"phone": "+358405700736"}

    async def test_withdrawing_the_whole_purpose_after_a_channel_grant(
        self, client: httpx.AsyncClient, actors: Actors, partner
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        await client.patch(
            "/v1/users/me", json={"email": "kanava@example.fi"}, headers=bearer(token)
        )
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "email", "granted")),
            headers=bearer(token),
        )
        assert str(user_id) in await self._audience(client, partner, "direct_marketing", "email")
        withdrawn = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", None, "withdrawn")),
            headers=bearer(token),
        )
        email = next(p for p in withdrawn.json()["permissions"] if p["channel"] == "email")
        assert (email["allowed"], email["reason"]) == (False, "consent_withdrawn")
        assert str(user_id) not in await self._audience(
            client, partner, "direct_marketing", "email"
        )

    async def test_withdrawing_takes_effect_for_the_next_read(
        self, client: httpx.AsyncClient, actors: Actors, partner
    ) -> None:  # type: ignore[no-untyped-def]
        user_id, token = await actors.user_with_token()
        await client.patch("/v1/users/me", json={"phone": "0401234567"}, headers=bearer(token))
        await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "sms", "granted")),
            headers=bearer(token),
        )
        assert str(user_id) in await self._audience(client, partner, "direct_marketing", "sms")
        withdrawn = await client.post(
            "/v1/users/me/permissions",
            json=decisions(("direct_marketing", "sms", "withdrawn")),
            headers=bearer(token),
        )
        assert withdrawn.status_code == 201
        assert str(user_id) not in await self._audience(client, partner, "direct_marketing", "sms")

    async def test_prohibited_and_closed_companies_are_left_out(
        self, client: httpx.AsyncClient, actors: Actors, partner, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        objecting = await actors.user(kind="company", email="no@example.fi")
        closing = await actors.user(kind="company", business_id="0737546-2", email="bye@example.fi")
        staff = bearer(await actors.client_token("staff"))
        await client.post(
            f"/v1/users/{objecting}/permissions",
            json=decisions(
                ("direct_marketing", None, "prohibited"), source="customer_service_call"
            ),
            headers=staff,
        )
        await client.delete(f"/v1/users/{closing}", headers=staff)
        assert await self._audience(client, partner, "direct_marketing", "email") == []

    async def test_user_tokens_and_wrong_channels(
        self, client: httpx.AsyncClient, actors: Actors, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        _, token = await actors.user_with_token()
        assert (
            await client.get(
                "/v1/audiences/direct_marketing", params={"channel": "email"}, headers=bearer(token)
            )
        ).status_code == 403
        wrong = await client.get(
            "/v1/audiences/customer_letters", params={"channel": "sms"}, headers=dpo
        )
        assert wrong.status_code == 422
