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

Every answer says why. The audiences use the same function, for their candidates and their answer.
"""

from __future__ import annotations

from dataclasses import dataclass

ELECTRONIC = frozenset({"email", "sms"})


@dataclass(frozen=True)
class PurposeRule:
    code: str
    category: str  # service, marketing, research, analytics
    legal_basis: str  # consent, contract, legal_obligation, legitimate_interest
    group_companies: bool = False


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
) -> Permission:
    """May ``purpose`` use this subject's data on ``channel`` (None: no channel)?

    ``purpose_decision`` is the subject's latest decision about the whole purpose, and
    ``channel_decision`` about the purpose on this channel (granted, withdrawn, prohibited,
    allowed, or None for no decision); ``purpose_decision_newer`` says the whole-purpose one was
    made after the channel one.
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
    if decision == "granted":
        return Permission(True, "explicit_consent")
    if decision == "withdrawn":
        return Permission(False, "consent_withdrawn")
    # 5. Defaults, when the person decided nothing (or only lifted a prohibition).
    lifted = decision == "allowed"
    electronic_marketing = purpose.category == "marketing" and channel in ELECTRONIC
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
