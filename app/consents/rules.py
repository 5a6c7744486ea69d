"""The one function that decides whether a user's data may be used for a purpose on a channel.

It encodes Finnish law (shared/docs/domain.md):
- Act on Electronic Communications Services 917/2014 §200: e-mail and SMS marketing to natural
  persons needs prior consent (opt-in); to legal persons it is allowed unless they refuse
  (opt-out). Phone and post marketing is allowed unless prohibited.
- GDPR Art. 21(2)-(3): an objection to direct marketing (a prohibition) is absolute and immediate:
  it overrides every grant.
- GDPR Art. 18: a restricted user's data is only stored.
- Closed, deceased and erased users: nothing for marketing, research or disclosure.
- Group companies' purposes need their own grant, or, where their basis is legitimate interest,
  no prohibition; the existing-customer exception of §200 is never applied to them (nor, here,
  automatically to anyone: without a recorded grant, a private person gets no e-mail or SMS
  marketing).

- GDPR Art. 7: consent given under a notice that has since changed materially no longer counts
  until the person decides again (``reconsent_required``).

Every answer says why. The audiences use the same function, for their candidates and their answer.

What an objection covers, and which legal bases the law fixes, are decided here too
(``objection_scope``, ``law_fixed_basis``), from the purposes' taxonomy: category (service,
marketing, research, analytics), whether it is direct marketing, and whose it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ELECTRONIC = frozenset({"email", "sms"})


@dataclass(frozen=True)
class PurposeRule:
    code: str
    category: str  # service, marketing, research, analytics
    legal_basis: str  # consent, contract, legal_obligation, legitimate_interest
    group_companies: bool = False  # whose: the controller's own, or its group companies'
    direct_marketing: bool = False  # Art. 21(2)-(3): profiling for marketing included
    channels: tuple[str, ...] = ()
    material_version: int = 1  # the newest version whose change was material


@dataclass(frozen=True)
class Subject:
    kind: str  # private, company
    status: str = "active"  # active, closed, erased
    deceased: bool = False
    restricted: bool = False


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str


def effective_permission(
    subject: Subject,
    purpose: PurposeRule,
    channel: str | None,
    *,
    purpose_decision: str | None = None,
    channel_decision: str | None = None,
    purpose_decision_newer: bool = False,
    decision_version: int | None = None,
) -> Permission:
    """May ``purpose`` use this subject's data on ``channel`` (None: no channel)?

    ``purpose_decision`` is the subject's latest decision about the whole purpose, and
    ``channel_decision`` about the purpose on this channel (granted, withdrawn, prohibited,
    allowed, or None for no decision); ``purpose_decision_newer`` says the whole-purpose one was
    made after the channel one; ``decision_version`` is the notice version the deciding one was
    made under.
    """
    # 1. The account's state: only legal obligations (bookkeeping) outlive it.
    if subject.status == "erased":
        return Permission(False, "account_erased")
    if purpose.legal_basis != "legal_obligation":
        if subject.restricted:
            return Permission(False, "processing_restricted")
        if subject.deceased:
            return Permission(False, "deceased")
        if subject.status != "active":
            return Permission(False, "account_closed")
    # 2. What the law itself requires or allows, whatever the person decided.
    if purpose.legal_basis == "legal_obligation":
        return Permission(True, "legal_obligation")
    if purpose.legal_basis == "contract":
        return Permission(True, "contract")
    # 3. An objection (prohibition) overrides every grant, on the purpose or on this channel.
    if "prohibited" in (purpose_decision, channel_decision):
        return Permission(False, "objection")
    # 4. The newer decision: a whole-purpose withdrawal supersedes an older grant on a channel,
    # and a newer channel decision refines an older whole-purpose one.
    if channel_decision is None or (purpose_decision is not None and purpose_decision_newer):
        decision = purpose_decision
    else:
        decision = channel_decision
    outdated = (
        decision == "granted"
        and decision_version is not None
        and decision_version < purpose.material_version
    )
    if outdated:
        # Consent to a notice since changed materially counts for nothing: what the law allows
        # without it still applies, what needs it waits for a new decision.
        decision = None
    if decision == "granted":
        return Permission(True, "explicit_consent")
    if decision == "withdrawn":
        return Permission(False, "consent_withdrawn")
    # 5. Defaults, when the person decided nothing (or only lifted a prohibition).
    lifted = decision == "allowed"
    electronic_marketing = purpose.direct_marketing and channel in ELECTRONIC
    needs_consent = (electronic_marketing and subject.kind == "private") or (
        purpose.legal_basis == "consent"
    )
    if needs_consent and outdated:
        return Permission(False, "reconsent_required")
    if electronic_marketing and subject.kind == "private":
        if purpose.group_companies:
            return Permission(False, "group_company_requires_own_grant")
        return Permission(False, "default_opt_in_required")
    if purpose.legal_basis == "consent":
        if purpose.group_companies:
            return Permission(False, "group_company_requires_own_grant")
        return Permission(False, "consent_required")
    # Legitimate interest: allowed unless prohibited.
    if electronic_marketing:
        return Permission(True, "prohibition_lifted" if lifted else "default_opt_out_company")
    return Permission(True, "prohibition_lifted" if lifted else "default_allowed_unless_prohibited")


@dataclass(frozen=True)
class Decided:
    """A stored decision: what, in which record (newer records have greater ids), and under which
    notice version."""

    decision: str
    record_id: int
    version: int


def permission_from_states(
    subject: Subject,
    purpose: PurposeRule,
    channel: str | None,
    whole: Decided | None,
    specific: Decided | None,
) -> tuple[Permission, Decided | None]:
    """``effective_permission`` from the person's stored decisions on the whole purpose and on
    this channel; also returns the decision that applied. Every reader of the states (the
    permissions, audiences, releases) goes through here."""
    whole_newer = bool(whole and specific and whole.record_id > specific.record_id)
    applied = whole if whole_newer or specific is None else specific
    permission = effective_permission(
        subject,
        purpose,
        channel,
        purpose_decision=whole.decision if whole else None,
        channel_decision=specific.decision if specific else None,
        purpose_decision_newer=whole_newer,
        decision_version=applied.version if applied else None,
    )
    return permission, applied


def objection_scope(objected: PurposeRule, catalogue: Iterable[PurposeRule]) -> list[PurposeRule]:
    """The purposes an objection (``prohibited``) to ``objected`` covers.

    Art. 21(2)-(3): an objection to direct marketing covers all processing for direct marketing,
    whoever markets (own or group companies), profiling for it included. The register
    description promises the same of market research: objecting to one research purpose objects
    to research. Any other objection covers its own purpose only. Purposes that rest on a
    contract or a legal obligation are never covered: an objection does not stop them.
    """
    if objected.direct_marketing:
        covered = [p for p in catalogue if p.direct_marketing]
    elif objected.category == "research":
        covered = [p for p in catalogue if p.category == "research"]
    else:
        covered = [objected]
    return [p for p in covered if p.legal_basis not in ("contract", "legal_obligation")]


def law_fixed_basis(purpose: PurposeRule) -> str | None:
    """The legal basis the law fixes for a purpose, if any (the DPO cannot change it).

    Analytics (917/2014 §205: not strictly necessary, so it rests on consent), and direct
    marketing that reaches people only by e-mail or SMS (§200: natural persons' prior consent).
    """
    if purpose.category == "analytics":
        return "consent"
    if purpose.direct_marketing and purpose.channels and set(purpose.channels) <= ELECTRONIC:
        return "consent"
    return None
