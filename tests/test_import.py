"""The bulk import: every kind of bad value reported and nothing of it stored, the same file
twice changes nothing, a corrected file changes only what it corrects, an import killed midway
and run again ends with exactly the file's rows, permissions keep their time and evidence."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.core.settings import Settings
from app.db import migrate
from app.imports.cli import import_file
from app.imports.rows import BadFile
from app.users.identity_codes import IdentityCodeCipher, Sealed
from tests.live import ROOT

CODE = "131052-308T"
HEADER = (
    "external_id,kind,username,password,first_name,last_name,company_name,business_id,"
    "address.street,address.postal_code,address.city,phone,email,identity_code,"
    "identity_code_method"
)


@pytest.fixture
async def target(fresh_database, settings: Settings) -> AsyncIterator[tuple[Settings, str]]:  # type: ignore[no-untyped-def]
    """A migrated database of its own (an import commits), and settings that point at it."""
    from sqlalchemy.ext.asyncio import create_async_engine

    url = await fresh_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    yield settings.model_copy(update={"database_url": url}), url.replace("+asyncpg", "", 1)


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rejects_text(path: Path) -> str:
    return Path(str(path) + ".rejects.csv").read_text(encoding="utf-8")


def _rejects(path: Path) -> list[dict[str, str]]:
    with Path(str(path) + ".rejects.csv").open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def _snapshot(dsn: str) -> dict[str, list[Any]]:
    tables = (
        "users",
        "credentials",
        "identity_codes",
        "user_changes",
        "contracts",
        "billing_profiles",
        "consent_receipts",
        "consent_records",
        "consent_states",
        "notifications",
    )
    return {t: sorted(map(tuple, await _fetch(dsn, f"SELECT * FROM {t}")), key=str) for t in tables}


BAD_ROWS = [
    "U-1,private,good.user,,Matti,Meikäläinen,,,Katu 1,00100,Helsinki,040 123 4567,"
    f"matti@example.fi,{CODE},bank_id",
    "U-2,private,bad.phone,,Pekka,P,,,,,,12345,,,",
    "U-3,private,bad.code,,Kaisa,K,,,,,,,,131052-308X,bank_id",
    "U-4,company,bad.business,,,,Väärä Oy,1234567-2,,,,,,,",
    "U-5,private,no.first.name,,,Nimetön,,,,,,,,,",
    "U-6,private,bad.email,,Eero,E,,,,,,,eero@,,",
    "U-7,private,short.password,lyhyt,Salla,S,,,,,,,,,",
    "U-8,robot,bad.kind,,R,R,,,,,,,,,",
    "U-9,private,x,,Liian,Lyhyt,,,,,,,,,",
    "U-10,private,code.without.method,,Ville,V,,,,,,,,010190-2347,",
    "U-11,company,company.with.name,,Väinö,V,Firma Oy,1234567-1,,,,,,,",
    "U-12,private,half.address,,Anna,A,,,Katu 2,,,,,,",
    "U-1,private,again.u1,,Toinen,Sama,,,,,,,,,",
    "U-13,private,good.user,,Toinen,Nimi,,,,,,,,,",
    f"U-14,private,same.code,,Koodi,Sama,,,,,,,,{CODE},bank_id",
    "U-15,private,temporary.code,,Tilapäinen,T,,,,,,,,010190-9005,bank_id",
]


async def test_every_kind_of_bad_value_is_reported_and_nothing_of_it_stored(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, dsn = target
    path = _write(tmp_path / "users.csv", [HEADER, *BAD_ROWS])
    summary = await import_file(settings, "users", path)
    assert summary["inserted"] == 1 and summary["read"] == len(BAD_ROWS)
    reasons = {(r["row"], r["column"], r["reason"]) for r in _rejects(path)}
    assert {
        ("3", "phone", "invalid_phone"),
        ("4", "identity_code", "invalid_identity_code"),
        ("5", "business_id", "invalid_business_id"),
        ("6", "first_name", "missing_value"),
        ("7", "email", "invalid_email"),
        ("8", "password", "invalid_password"),
        ("9", "kind", "invalid_kind"),
        ("10", "username", "invalid_username"),
        ("12", "first_name", "not_applicable"),
        ("12", "last_name", "not_applicable"),
        ("13", "address.postal_code", "missing_value"),
        ("14", "external_id", "duplicate_in_file"),
        ("15", "username", "duplicate_username"),
        ("16", "identity_code", "duplicate_identity_code"),
        ("17", "identity_code", "invalid_identity_code"),
    } <= reasons
    assert any(r["row"] == "11" and r["reason"] == "invalid_row" for r in _rejects(path))
    assert summary["rejected"] == len(BAD_ROWS) - 1
    assert summary["rejected_by_reason"]["invalid_phone"] == 1
    text = _rejects_text(path)
    # Never the rejected value of an identity code or a password.
    for secret in ("131052-308X", "lyhyt", "010190-9005", CODE):
        assert secret not in text
    # Nothing of a rejected row is stored.
    users = await _fetch(dsn, "SELECT external_id, first_name FROM users")
    assert [(u[0], u[1]) for u in users] == [("U-1", "Matti")]
    assert len(await _fetch(dsn, "SELECT 1 FROM credentials")) == 1
    assert len(await _fetch(dsn, "SELECT 1 FROM identity_codes")) == 1
    stored = await _fetch(dsn, "SELECT * FROM users")
    assert stored[0]["phone"] == "+358401234567" and stored[0]["country"] == "FI"
    # Encrypted and indexed as the API does: the service's own cipher opens it.
    code = (await _fetch(dsn, "SELECT * FROM identity_codes"))[0]
    cipher = IdentityCodeCipher.from_settings(settings)
    sealed = Sealed(code["key_id"], code["nonce"], code["ciphertext"])
    assert cipher.open(stored[0]["id"], sealed) == CODE
    assert code["lookup_hash"] == cipher.lookup_hash(CODE) and code["masked"] == "131052-****"
    # Provenance: the import, its file and checksum.
    changes = await _fetch(dsn, "SELECT source, actor, update_id, category FROM user_changes")
    assert {(c[0], c[1], c[2]) for c in changes} == {
        ("import", "import:users.csv", f"import:{summary['sha256']}")
    }
    assert {c[3] for c in changes} == {"basic_data", "identity_code"}
    # A finished run leaves only its summary behind.
    assert (
        await _fetch(dsn, "SELECT 1 FROM import_keys UNION ALL SELECT 1 FROM import_rejects") == []
    )


async def test_the_same_file_twice_changes_nothing_and_a_correction_only_what_it_corrects(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, dsn = target
    rows = [
        f"A-{n},private,user{n},,Etu{n},Suku{n},,,Katu {n},00100,Helsinki,,a{n}@example.fi,,"
        for n in range(30)
    ]
    path = _write(tmp_path / "users.csv", [HEADER, *rows])
    first = await import_file(settings, "users", path, batch_size=7)
    assert first["inserted"] == 30
    before = await _snapshot(dsn)
    second = await import_file(settings, "users", path, batch_size=7)
    assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 30)
    assert await _snapshot(dsn) == before

    # A-4's data was disclosed to a group company: a rectification is theirs to know (Art. 19).
    await _fetch(
        dsn,
        """
        WITH r AS (
            INSERT INTO recipients (id, name, kind, country, in_eu_eea, purposes, legal_basis)
            VALUES (gen_random_uuid(), 'Konserniyhtiö Oy', 'group_company', 'FI', true,
                    ARRAY['group_direct_marketing'], 'legitimate_interest') RETURNING id
        )
        INSERT INTO disclosure_log (disclosed_at, subject_ref, recipient_id, recipient_name,
                                    purpose, categories, legal_basis, kind)
        SELECT now(), u.subject_ref, r.id, 'Konserniyhtiö Oy', 'group_direct_marketing',
               ARRAY['email'], 'legitimate_interest', 'release'
        FROM users u, r WHERE u.external_id = 'A-4'
        """,
    )
    rows[4] = rows[4].replace("a4@example.fi", "uusi4@example.fi")
    corrected = _write(tmp_path / "users-corrected.csv", [HEADER, *rows])
    third = await import_file(settings, "users", corrected)
    assert (third["inserted"], third["updated"], third["unchanged"]) == (0, 1, 29)
    [change] = await _fetch(
        dsn, "SELECT fields, changes, action FROM user_changes WHERE action = 'updated'"
    )
    assert change["fields"] == ["email"]
    assert json.loads(change["changes"]) == {
        "email": {"from": "a4@example.fi", "to": "uusi4@example.fi"}
    }
    [notification] = await _fetch(dsn, "SELECT event, payload FROM notifications")
    payload = json.loads(notification["payload"])
    assert notification["event"] == "rectification" and payload["event"] == "rectification"
    assert payload["fields"] == ["email"], "a list, as the API sends it"


async def test_an_import_resumes_and_a_dry_run_writes_nothing(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, dsn = target
    rows = [f"R-{n},private,resume{n},,E,S,,,,,,,,," for n in range(50)]
    path = _write(tmp_path / "users.csv", [HEADER, *rows, "R-3,private,dup,,E,S,,,,,,,,,"])
    dry = await import_file(settings, "users", path, dry_run=True, batch_size=10)
    assert dry["dry_run"] and dry["inserted"] == 50 and dry["rejected"] == 1
    assert _rejects(path)[0]["reason"] == "duplicate_in_file"
    assert await _fetch(dsn, "SELECT 1 FROM users") == []
    assert await _fetch(dsn, "SELECT 1 FROM import_runs") == []

    # A run stopped after its second batch (as a kill leaves it): the rest is done on the next.
    connection = await asyncpg.connect(dsn)
    try:
        from app.imports import runner

        original = runner._write_batch
        calls = 0

        async def dying(*args: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise KeyboardInterrupt
            await original(*args)

        runner._write_batch = dying  # type: ignore[assignment]
        try:
            with pytest.raises(KeyboardInterrupt):
                await import_file(settings, "users", path, batch_size=10)
        finally:
            runner._write_batch = original  # type: ignore[assignment]
        assert await connection.fetchval("SELECT count(*) FROM users") == 20
        # A dry run meanwhile reads the whole file; it does not pick up the interrupted run.
        dry = await import_file(settings, "users", path, dry_run=True, batch_size=10)
        assert (dry["inserted"], dry["unchanged"], dry["rejected"]) == (30, 20, 1)
        summary = await import_file(settings, "users", path, batch_size=10)
        assert summary["inserted"] == 50 and summary["rejected"] == 1
        assert await connection.fetchval("SELECT count(DISTINCT external_id) FROM users") == 50
        assert await connection.fetchval("SELECT count(*) FROM users") == 50
    finally:
        await connection.close()


async def test_a_killed_import_run_again_ends_with_exactly_the_files_rows(
    target: tuple[Settings, str], tmp_path: Path, test_data_dir: Path
) -> None:
    settings, dsn = target
    total = 4000
    rows = [f"K-{n},private,killed{n},,Etu,Suku,,,,,,,k{n}@example.fi,," for n in range(total)]
    path = _write(tmp_path / "users.csv", [HEADER, *rows])
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.database_url or "",
        "REGISTRY_DATA_DIR": str(test_data_dir),
        "REGISTRY_GENERATE_KEYS": "true",
    }
    command = [sys.executable, "-m", "app.cli", "import", "users", str(path), "--batch-size", "50"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(600):
            done = await _fetch(dsn, "SELECT coalesce(max(batches_done), 0) FROM import_runs")
            if done[0][0] >= 3:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        await asyncio.wait_for(process.wait(), 30)
    partway = (await _fetch(dsn, "SELECT count(*) FROM users"))[0][0]
    assert 0 < partway < total, "killed midway"
    again = await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    assert summary["inserted"] == total and summary["rejected"] == 0
    names = await _fetch(dsn, "SELECT external_id FROM users ORDER BY external_id")
    assert sorted(r[0] for r in names) == sorted(f"K-{n}" for n in range(total))
    assert (await _fetch(dsn, "SELECT count(*) FROM credentials"))[0][0] == total


async def test_permissions_keep_their_time_and_evidence_and_prohibition_wins_the_day(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, dsn = target
    users = _write(
        tmp_path / "users.csv",
        [HEADER, "P-U1,private,perm1,,A,B,,,,,,,,,", "P-U2,private,perm2,,C,D,,,,,,,,,"],
    )
    await import_file(settings, "users", users)
    header = "external_id,user_external_id,purpose,channel,decision,decided_at,original_source,notice_text"
    path = _write(
        tmp_path / "permissions.csv",
        [
            header,
            # A grant later in the day than a prohibition of the same date: the prohibition wins.
            "D-1,P-U1,direct_marketing,email,prohibited,2021-03-01T09:00:00+02:00,phone call,Kielto.",
            "D-2,P-U1,direct_marketing,email,granted,2021-03-01T15:00:00+02:00,web form,Saat tarjouksia.",
            "D-3,P-U2,direct_marketing,sms,granted,2022-06-15,web form,",
            "D-4,P-U2,customer_relationship,email,granted,2022-06-15,web form,",
            "D-5,P-U9,direct_marketing,email,granted,2022-06-15,web form,",
            "D-6,P-U2,direct_marketing,fax,granted,2022-06-15,web form,",
            "D-7,P-U2,direct_marketing,sms,granted,not a date,web form,",
        ],
    )
    summary = await import_file(settings, "permissions", path)
    assert summary["inserted"] == 2
    reasons = {r["external_id"]: r["reason"] for r in _rejects(path)}
    assert reasons == {
        "D-2": "superseded",
        "D-4": "invalid_decision",
        "D-5": "unknown_user",
        "D-6": "invalid_channel",
        "D-7": "invalid_decided_at",
    }
    state = await _fetch(
        dsn,
        "SELECT s.decision FROM consent_states s JOIN users u ON u.id = s.user_id "
        "WHERE u.external_id = 'P-U1' AND s.purpose_code = 'direct_marketing' "
        "AND s.channel = 'email'",
    )
    assert [r[0] for r in state] == ["prohibited"]
    # The objection covers what the law says it covers: group companies' direct marketing too.
    covered = await _fetch(
        dsn,
        "SELECT s.decision FROM consent_states s JOIN users u ON u.id = s.user_id "
        "WHERE u.external_id = 'P-U1' AND s.purpose_code = 'group_direct_marketing'",
    )
    assert [r[0] for r in covered] == ["prohibited"]
    [receipt] = await _fetch(
        dsn, "SELECT source, recorded_at, evidence FROM consent_receipts WHERE external_id = 'D-1'"
    )
    evidence = json.loads(receipt["evidence"])
    assert receipt["source"] == "import"
    assert receipt["recorded_at"].isoformat() == "2021-03-01T07:00:00+00:00"
    assert evidence["imported"] is True and evidence["original_source"] == "phone call"
    assert evidence["notice_text"] == "Kielto." and evidence["sha256"] == summary["sha256"]
    # The state is what the records say (the invariant the API keeps).
    rebuilt = await _fetch(
        dsn,
        """
        SELECT count(*) FROM (
            SELECT DISTINCT ON (user_id, purpose_code, channel) user_id, purpose_code, channel, id
            FROM consent_records ORDER BY user_id, purpose_code, channel, id DESC) r
        FULL JOIN consent_states s USING (user_id, purpose_code, channel)
        WHERE r.id IS DISTINCT FROM s.record_id
        """,
    )
    assert rebuilt[0][0] == 0
    before = await _snapshot(dsn)
    again = await import_file(settings, "permissions", path, batch_size=1)
    assert (again["inserted"], again["unchanged"]) == (0, 2)
    assert again["rejected_by_reason"] == summary["rejected_by_reason"], "whatever the batches"
    assert await _snapshot(dsn) == before
    # A receipt never changes: the same old id with another decision is refused.
    changed = _write(
        tmp_path / "changed.csv",
        [header, "D-3,P-U2,direct_marketing,sms,withdrawn,2022-06-15,web form,"],
    )
    assert (await import_file(settings, "permissions", changed))["rejected_by_reason"] == {
        "receipt_immutable": 1
    }

    # An older decision after a newer one is refused, not recorded out of order.
    late = _write(
        tmp_path / "late.csv",
        [header, "D-8,P-U2,direct_marketing,sms,withdrawn,2020-01-01,letter,"],
    )
    assert (await import_file(settings, "permissions", late))["rejected_by_reason"] == {
        "superseded": 1
    }


async def test_contracts_billing_and_what_an_import_never_touches(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, dsn = target
    users = _write(
        tmp_path / "users.jsonl",
        [
            json.dumps(
                {
                    "external_id": "C-U1",
                    "kind": "company",
                    "username": "firma",
                    "company_name": "Firma Oy",
                    "business_id": "1234567-1",
                    "address": {"street": "Katu 1", "postal_code": "00100", "city": "Helsinki"},
                }
            ),
            json.dumps(
                {
                    "external_id": "C-U2",
                    "kind": "private",
                    "username": "henkilo",
                    "first_name": "H",
                    "last_name": "K",
                }
            ),
            "{not json",
        ],
    )
    summary = await import_file(settings, "users", users)
    assert summary["inserted"] == 2 and _rejects(users)[0]["reason"] == "invalid_row"
    contracts = _write(
        tmp_path / "contracts.csv",
        [
            "external_id,user_external_id,product,seller,opened_on,terminated_on,communication.email",
            "K-1,C-U1,Yritystili,Mezzoforte Oy,2019-05-01,,laskut@firma.example.fi",
            "K-2,C-U1,Yritystili,Mezzoforte Oy,2025-01-01,2024-12-31,",
            "K-3,C-U9,Plus,Mezzoforte Oy,2020-01-01,,",
            "K-1,C-U1,REJECTED,Other Oy,2019-05-01,,",
        ],
    )
    result = await import_file(settings, "contracts", contracts)
    assert result["inserted"] == 1
    assert [(r["external_id"], r["reason"]) for r in _rejects(contracts)] == [
        ("K-2", "invalid_row"),
        ("K-3", "unknown_user"),
        ("K-1", "duplicate_in_file"),
    ]
    # Nothing of the refused duplicate, in the data or its history.
    history = await _fetch(dsn, "SELECT changes FROM user_changes WHERE category = 'contracts'")
    assert len(history) == 1 and "REJECTED" not in history[0][0]
    [contract] = await _fetch(dsn, "SELECT product, communication FROM contracts")
    assert json.loads(contract["communication"]) == {"email": "laskut@firma.example.fi"}
    billing = _write(
        tmp_path / "billing.csv",
        [
            "user_external_id,street,postal_code,city,country,payment_method_reference",
            "C-U1,Laskutie 3,00100,Helsinki,fi,pm_123",
            "C-U2,Katu 9,00100,Helsinki,FI,4111 1111 1111 1111",
        ],
    )
    result = await import_file(settings, "billing", billing)
    assert result["inserted"] == 1
    assert _rejects(billing)[0]["reason"] == "invalid_payment_method_reference"
    assert "4111" not in _rejects_text(billing)
    [profile] = await _fetch(dsn, "SELECT country, payment_method_reference FROM billing_profiles")
    assert tuple(profile) == ("FI", "pm_123")
    # Both files again: nothing changes.
    before = await _snapshot(dsn)
    again = [
        await import_file(settings, kind, path)
        for kind, path in (("contracts", contracts), ("billing", billing))
    ]
    assert [(a["inserted"], a["updated"], a["unchanged"]) for a in again] == [(0, 0, 1), (0, 0, 1)]
    assert await _snapshot(dsn) == before
    # A corrected billing row changes that value only.
    corrected_billing = _write(
        tmp_path / "billing2.csv",
        [
            "user_external_id,street,postal_code,city,country,payment_method_reference",
            "C-U1,Laskutie 3,00100,Helsinki,fi,pm_456",
        ],
    )
    assert (await import_file(settings, "billing", corrected_billing))["updated"] == 1
    [change] = await _fetch(
        dsn, "SELECT fields FROM user_changes WHERE category = 'billing' AND action = 'updated'"
    )
    assert change[0] == ["payment_method_reference"]
    # Contracts and billing details changed in this register since are left as they are.
    await _fetch(
        dsn,
        "INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes) "
        "SELECT id, 'staff', 'client:staff', c, 'updated', '{}', '{}' FROM users, "
        "unnest(ARRAY['contracts', 'billing']) c WHERE external_id = 'C-U1'",
    )
    kept = [
        await import_file(settings, kind, path)
        for kind, path in (("contracts", contracts), ("billing", billing))
    ]
    assert [k["rejected_by_reason"].get("changed_in_service") for k in kept] == [1, 1]
    [profile] = await _fetch(dsn, "SELECT payment_method_reference FROM billing_profiles")
    assert profile[0] == "pm_456"

    # A user erased, or changed in this service since the import, is left as it is.
    await _fetch(
        dsn, "UPDATE users SET status = 'erased', first_name = NULL WHERE external_id = 'C-U2'"
    )
    await _fetch(
        dsn,
        "INSERT INTO user_changes (user_id, source, actor, category, action, fields, changes) "
        "SELECT id, 'subject', 'subject', 'basic_data', 'updated', '{}', '{}' FROM users "
        "WHERE external_id = 'C-U1'",
    )
    corrected = _write(
        tmp_path / "users2.jsonl",
        [
            json.dumps(
                {
                    "external_id": "C-U1",
                    "kind": "company",
                    "username": "firma",
                    "company_name": "Toinen Nimi Oy",
                    "business_id": "1234567-1",
                }
            ),
            json.dumps(
                {
                    "external_id": "C-U2",
                    "kind": "private",
                    "username": "henkilo",
                    "first_name": "H",
                    "last_name": "K",
                }
            ),
        ],
    )
    result = await import_file(settings, "users", corrected)
    assert result["rejected_by_reason"] == {"account_erased": 1, "changed_in_service": 1}
    # Nor does a corrected file turn a company into a person.
    await _fetch(dsn, "DELETE FROM user_changes WHERE source = 'subject'")
    turned = _write(
        tmp_path / "users3.jsonl",
        [
            json.dumps(
                {
                    "external_id": "C-U1",
                    "kind": "private",
                    "username": "firma",
                    "first_name": "F",
                    "last_name": "O",
                }
            ),
            json.dumps(
                {
                    "external_id": "C-U3",
                    "kind": "private",
                    "username": "nul",
                    "first_name": "Nul\u0000",
                    "last_name": "L",
                }
            ),
        ],
    )
    result = await import_file(settings, "users", turned)
    assert result["rejected_by_reason"] == {"invalid_row": 1, "kind_changed": 1}
    names = await _fetch(dsn, "SELECT company_name, first_name FROM users ORDER BY external_id")
    assert [tuple(n) for n in names] == [("Firma Oy", None), (None, None)]


async def test_a_file_that_cannot_be_read_is_refused_whole(
    target: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, _ = target
    with pytest.raises(BadFile, match="unknown column"):
        await import_file(settings, "users", _write(tmp_path / "u.csv", ["external_id,shoe_size"]))
    with pytest.raises(BadFile, match="external_id is missing"):
        await import_file(settings, "users", _write(tmp_path / "v.csv", ["kind,username"]))
    latin1 = tmp_path / "w.csv"
    latin1.write_bytes(
        "external_id,kind,username,first_name,last_name\nX,private,u,Äijä,Ö\n".encode("latin-1")
    )
    with pytest.raises(BadFile, match="not UTF-8"):
        await import_file(settings, "users", latin1)


@pytest.mark.slow
async def test_the_readme_example_runs_from_a_clone(
    target: tuple[Settings, str], tmp_path: Path, test_data_dir: Path
) -> None:
    from tests.test_readme import runnable

    settings, dsn = target
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples")
    (work / ".venv").symlink_to(ROOT / ".venv")
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.database_url or "",
        "REGISTRY_DATA_DIR": str(test_data_dir),
        "REGISTRY_GENERATE_KEYS": "true",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", runnable("import")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [
        json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"kind":')
    ]
    assert [s["kind"] for s in summaries] == [
        "users",
        "users",
        "permissions",
        "contracts",
        "billing",
        "users",
    ]
    assert summaries[0]["dry_run"] and summaries[1]["inserted"] == summaries[0]["inserted"] == 4
    assert summaries[-1]["unchanged"] == 4 and summaries[-1]["inserted"] == 0
    assert (await _fetch(dsn, "SELECT count(*) FROM users"))[0][0] == 4
    assert (work / "examples" / "users.csv.rejects.csv").exists()
