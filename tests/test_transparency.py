"""The transparency logs: RFC 9162 trees checked against an independent implementation and the
Certificate Transparency test vectors, C2SP signed checkpoints, proofs through the API and in the
export, `audit verify` naming what was tampered with, and the migration of the chained logs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.audit import merkle, sequencer, verify
from app.audit.logs import ACCESS_LOG, DISCLOSURE_LOG, Signers
from app.audit.note import Checkpoint, NoteError, Signer, Verifier
from app.db import migrate, raw
from tests.conftest import Actors, bearer

# An independent RFC 9162 section 2.1 implementation, written from the text ------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, entries[:k], b), mth(entries[k:])]
    return [*subproof(m - k, entries[k:], False), mth(entries[:k])]


def mth_of_leaves(leaves: list[bytes]) -> bytes:
    """MTH from leaf hashes (section 2.1.1 with the leaves already hashed)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + mth_of_leaves(leaves[:k]) + mth_of_leaves(leaves[k:]))


def proof(m: int, entries: list[bytes]) -> list[bytes]:
    return subproof(m, entries, True) if 0 < m < len(entries) else []


def stored(entries: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree of the tree, as the service stores them."""
    found: dict[tuple[int, int], bytes] = {}
    level = 0
    while (1 << level) <= len(entries):
        width = 1 << level
        for index in range(len(entries) // width):
            found[(level, index)] = mth(entries[index * width : (index + 1) * width])
        level += 1
    return found


CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


class TestMerkleTrees:
    def test_certificate_transparency_vectors(self) -> None:
        frontier = merkle.Frontier()
        assert frontier.root().hex() == hashlib.sha256(b"").hexdigest()
        for entry, expected in zip(CT_LEAVES, CT_ROOTS, strict=True):
            frontier.append(merkle.leaf_hash(entry))
            assert frontier.root().hex() == expected
        store = stored(CT_LEAVES)
        inclusion = merkle.range_hashes(merkle.inclusion_ranges(5, 8), store.__getitem__)
        assert [h.hex()[:8] for h in inclusion] == ["bc1a0643", "ca854ea1", "d37ee418"]
        consistency = merkle.range_hashes(merkle.consistency_ranges(2, 8), store.__getitem__)
        assert [h.hex()[:8] for h in consistency] == ["5f083f0a", "6b47aaf2"]

    def test_roots_and_proofs_of_every_size_to_70_match_the_rfc(self) -> None:
        entries = [f"entry {i}".encode() * (i % 3 + 1) for i in range(70)]
        frontier = merkle.Frontier()
        completed: dict[tuple[int, int], bytes] = {}
        for size in range(1, 71):
            for level, index, value in frontier.append(merkle.leaf_hash(entries[size - 1])):
                completed[(level, index)] = value
            tree = entries[:size]
            root = mth(tree)
            assert frontier.root() == root, size
            store = stored(tree)
            for key, value in completed.items():
                assert store[key] == value, (size, key)
            edge = merkle.Frontier.load(size, store.__getitem__)
            assert edge.root() == root
            for m in range(size):
                got = merkle.range_hashes(merkle.inclusion_ranges(m, size), store.__getitem__)
                assert got == path(m, tree), (m, size)
                merkle.verify_inclusion(m, size, merkle.leaf_hash(tree[m]), got, root)
            for m in range(size + 1):
                got = merkle.range_hashes(merkle.consistency_ranges(m, size), store.__getitem__)
                assert got == proof(m, tree), (m, size)
                merkle.verify_consistency(m, size, mth(tree[:m]), root, got)

    def test_wrong_proofs_are_refused(self) -> None:
        entries = [bytes([i]) for i in range(13)]
        store = stored(entries)
        root = mth(entries)
        good = merkle.range_hashes(merkle.inclusion_ranges(6, 13), store.__getitem__)
        leaf = merkle.leaf_hash(entries[6])
        for index, size, hashes, value in (
            (5, 13, good, leaf),
            (6, 7, good, leaf),
            (6, 13, good[:-1], leaf),
            (6, 13, [*good, good[0]], leaf),
            (6, 13, [sha(b"x"), *good[1:]], leaf),
            (6, 13, good, merkle.leaf_hash(b"other")),
        ):
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(index, size, value, hashes, root)
        steps = merkle.range_hashes(merkle.consistency_ranges(5, 13), store.__getitem__)
        old = mth(entries[:5])
        for first, second, first_root, hashes in (
            (4, 13, old, steps),
            (5, 13, sha(b"x"), steps),
            (5, 13, old, steps[:-1]),
            (5, 13, old, [*steps[:-1], sha(b"y")]),
            (5, 13, old, []),
        ):
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(first, second, first_root, root, hashes)


class TestSignedNotes:
    def test_a_checkpoint_note_as_c2sp_specifies_it(self) -> None:
        key = Ed25519PrivateKey.generate()
        signer = Signer("example.com/log", key)
        body = Checkpoint("example.com/log", 7, sha(b"root")).body()
        note = signer.sign(body)
        # Read with nothing but the spec and `cryptography`: body, blank line, signature line.
        text_part, signature_line = note.split("\n\n")
        assert (
            text_part + "\n"
            == body
            == f"example.com/log\n7\n{base64.b64encode(sha(b'root')).decode()}\n"
        )
        assert signature_line.startswith("\u2014 example.com/log ")
        raw_signature = base64.b64decode(signature_line.split(" ")[2])
        public = key.public_key().public_bytes_raw()
        assert raw_signature[:4] == sha(b"example.com/log\n\x01" + public)[:4]
        Ed25519PublicKey.from_public_bytes(public).verify(raw_signature[4:], body.encode())
        name, key_id, encoded = signer.verifier.vkey.split("+", 2)
        assert (name, key_id) == ("example.com/log", raw_signature[:4].hex())
        assert base64.b64decode(encoded) == b"\x01" + public
        assert Verifier.parse(signer.verifier.vkey).open(note) == body

    def test_a_changed_note_or_another_key_is_refused(self) -> None:
        signer = Signer("example.com/log", Ed25519PrivateKey.generate())
        note = signer.sign(Checkpoint("example.com/log", 7, sha(b"root")).body())
        with pytest.raises(NoteError):
            signer.verifier.open(note.replace("\n7\n", "\n8\n"))
        other = Signer("example.com/log", Ed25519PrivateKey.generate()).verifier
        with pytest.raises(NoteError):
            other.open(note)
        with pytest.raises(NoteError):
            Verifier.parse(signer.verifier.vkey.replace("+", "+00", 1))


# The logs in the database ---------------------------------------------------------------------


async def integrate(database: Any, app: Any) -> int:
    """One sequencer pass, as the service's role, committed (to the test's savepoint)."""
    async with database.session() as session:
        done = await sequencer.integrate_all(await raw.driver(session), app.state.signers)
        await session.commit()
    return done


class Discloser:
    """Logs disclosures as staff do (a disclosure outside the API): one entry per user."""

    def __init__(self, client: httpx.AsyncClient, actors: Actors) -> None:
        self.client, self.actors = client, actors
        self.recipient: uuid.UUID | None = None
        self.headers: dict[str, str] = {}

    async def __call__(self, *user_ids: uuid.UUID) -> None:
        if self.recipient is None:
            _, self.recipient, _ = await self.actors.partner_token()
            self.headers = bearer(await self.actors.client_token("staff"))
        response = await self.client.post(
            "/v1/disclosure-log",
            json={
                "recipient_id": str(self.recipient),
                "purpose": "billing",
                "categories": ["basic_data"],
                "legal_basis": "legitimate_interest",
                "user_ids": [str(u) for u in user_ids],
            },
            headers=self.headers,
        )
        assert response.status_code == 201, response.text


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def check_inclusion(item: dict[str, Any], entry: bytes | None, note: str, vkey: str) -> None:
    """What a person does offline with a proof: the note's signature, then the path."""
    body = Verifier.parse(vkey).open(note)
    checkpoint = Checkpoint.parse(body)
    leaf = sha(b"\x00" + entry) if entry is not None else b64(item["leaf_hash"])
    if "leaf_hash" in item:
        assert leaf == b64(item["leaf_hash"])
    root = merkle.root_from_inclusion(
        item["leaf_index"], checkpoint.size, leaf, [b64(h) for h in item["hashes"]]
    )
    assert root == checkpoint.root


class TestTheLogs:
    async def test_writers_queue_and_the_sequencer_signs(
        self, client: httpx.AsyncClient, actors: Actors, database, app, db: AsyncSession, staff
    ) -> None:  # type: ignore[no-untyped-def]
        # The suite's database may hold what other tests committed: count from where it is.
        await integrate(database, app)
        before = await db.scalar(text("SELECT count(*) FROM transparency_leaves WHERE log = 2"))
        for _ in range(3):
            await client.get(f"/v1/users/{await actors.user()}", headers=staff)
        queued = await db.scalar(text("SELECT count(*) FROM transparency_queue WHERE log = 2"))
        assert queued == 3, "each logged read is queued by the trigger, in its transaction"
        assert await integrate(database, app) == 3
        assert await db.scalar(text("SELECT count(*) FROM transparency_queue")) == 0
        indices = (
            await db.scalars(
                text("SELECT leaf_index FROM transparency_leaves WHERE log = 2 ORDER BY 1")
            )
        ).all()
        assert indices == list(range(before + 3))

        response = await client.get("/v1/transparency/access-log/checkpoint")
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("cache-control", "")
        checkpoint = response.json()
        assert checkpoint["tree_size"] == before + 3
        body = Verifier.parse(checkpoint["verifier_key"]).open(checkpoint["note"])
        assert body.split("\n")[:2] == ["huutokaupat.com/registry/access-log", str(before + 3)]
        leaves = (
            await db.scalars(
                text("SELECT leaf_hash FROM transparency_leaves WHERE log = 2 ORDER BY leaf_index")
            )
        ).all()
        assert b64(checkpoint["root_hash"]) == mth_of_leaves(list(leaves))
        plain = await client.get(
            "/v1/transparency/access-log/checkpoint", headers={"Accept": "text/plain"}
        )
        assert plain.headers["content-type"].startswith("text/plain")
        assert plain.text == checkpoint["note"]
        jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
        okp = [k for k in jwks if k["kty"] == "OKP"]
        assert len(okp) == 1 and "n" not in okp[0]
        public = base64.urlsafe_b64decode(okp[0]["x"] + "==")
        assert base64.b64decode(checkpoint["verifier_key"].split("+", 2)[2]) == b"\x01" + public
        assert await integrate(database, app) == 0
        sizes = (
            await db.scalars(
                text("SELECT tree_size FROM transparency_checkpoints WHERE log = 2 ORDER BY 1")
            )
        ).all()
        assert sizes[-1] == before + 3 and len(set(sizes)) == len(sizes), "each size once"
        assert await db.scalar(
            text("SELECT count(*) FROM transparency_checkpoints WHERE log = 1")
        ), "an empty log is signed too"

    async def test_a_person_proves_their_own_disclosures_and_nothing_else(
        self, client: httpx.AsyncClient, actors: Actors, database, app, dpo
    ) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        user_id, token = await actors.user_with_token()
        other = await actors.user()
        await disclose(other)
        await disclose(user_id)
        await integrate(database, app)
        own = (await client.get("/v1/users/me/disclosures", headers=bearer(token))).json()
        entry_id = own["items"][0]["id"]
        response = await client.get(
            "/v1/transparency/disclosure-log/proofs/inclusion",
            params={"entry_id": entry_id},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["leaf_index"] == found["tree_size"] - 1, "the newest entry"
        vkey = (await client.get("/v1/transparency/disclosure-log/checkpoint")).json()[
            "verifier_key"
        ]
        check_inclusion(found, None, found["checkpoint"], vkey)
        for params in ({"leaf_index": 0}, {"entry_id": entry_id - 1}):
            refused = await client.get(
                "/v1/transparency/disclosure-log/proofs/inclusion",
                params=params,
                headers=bearer(token),
            )
            assert refused.status_code == 404, "another person's entry is not theirs to prove"
            assert refused.headers["content-type"] == "application/problem+json"
        access = await client.get(
            "/v1/transparency/access-log/proofs/inclusion",
            params={"leaf_index": 0},
            headers=bearer(token),
        )
        assert access.status_code == 403
        both = await client.get(
            "/v1/transparency/disclosure-log/proofs/inclusion",
            params={"leaf_index": 0, "entry_id": entry_id},
            headers=bearer(token),
        )
        assert both.status_code == 422
        assert (
            await client.get(
                "/v1/transparency/disclosure-log/proofs/inclusion", params={"leaf_index": 0}
            )
        ).status_code == 401
        # The DPO proves any entry, and that the log only grew.
        any_entry = await client.get(
            "/v1/transparency/disclosure-log/proofs/inclusion",
            params={"leaf_index": 0, "tree_size": 1},
            headers=dpo,
        )
        assert any_entry.json()["hashes"] == []
        assert (
            await client.get(
                "/v1/transparency/disclosure-log/proofs/inclusion",
                params={"leaf_index": 0, "tree_size": found["tree_size"] + 1},
                headers=dpo,
            )
        ).status_code == 422
        grown = (
            await client.get(
                "/v1/transparency/disclosure-log/proofs/consistency",
                params={"first": 1},
                headers=dpo,
            )
        ).json()
        merkle.verify_consistency(
            1,
            found["tree_size"],
            b64(grown["first_root"]),
            b64(grown["second_root"]),
            [b64(h) for h in grown["hashes"]],
        )
        page = await client.get(
            "/v1/transparency/disclosure-log/entries", params={"limit": 1}, headers=dpo
        )
        assert page.status_code == 200
        first = page.json()
        assert first["next_cursor"] == "1" and 'rel="next"' in page.headers["link"]
        item = first["items"][0]
        assert sha(b"\x00" + item["entry"].encode()) == b64(item["leaf_hash"])
        assert json.loads(item["entry"])["id"] == item["entry_id"]
        assert (
            await client.get("/v1/transparency/disclosure-log/entries", headers=bearer(token))
        ).status_code == 403

    async def test_the_access_export_proves_every_disclosure_offline(
        self, client: httpx.AsyncClient, actors: Actors, database, app
    ) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        user_id, token = await actors.user_with_token()
        for _ in range(3):
            await disclose(user_id, await actors.user())
        await integrate(database, app)
        await disclose(user_id)  # not yet in a checkpoint
        export = json.loads(
            (await client.get("/v1/users/me/export", headers=bearer(token))).content
        )
        section = export["transparency"]
        assert len(section["entries"]) == 3
        assert len(section["pending"]) == 1
        rows = next(
            c["tables"]["disclosure_log"]
            for c in export["categories"].values()
            if "disclosure_log" in c["tables"]
        )["rows"]
        assert sorted(r["id"] for r in rows) == sorted(
            [e["entry_id"] for e in section["entries"]] + section["pending"]
        )
        for item in section["entries"]:
            assert json.loads(item["entry"])["id"] == item["entry_id"]
            check_inclusion(
                item, item["entry"].encode(), section["checkpoint"], section["verifier_key"]
            )


# Verification -----------------------------------------------------------------------------------


async def _verify(db: AsyncSession, app: Any, log: Any = DISCLOSURE_LOG, *, full: bool = True):  # type: ignore[no-untyped-def]
    return await verify.verify(await raw.driver(db), log, app.state.signers, full=full)


async def _tampered(
    db: AsyncSession, app: Any, *statements: str, full: bool = True, log: Any = DISCLOSURE_LOG
) -> verify.Report:
    """The report of a verify run after changes made as a superuser past the triggers, then
    rolled back."""
    async with db.begin_nested() as savepoint:
        await db.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            await db.execute(text(statement))
        report = await _verify(db, app, log, full=full)
        await savepoint.rollback()
    return report


class TestVerify:
    async def _log_of(self, client, actors, database, app, count: int = 5) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        users = [await actors.user() for _ in range(count)]
        for user in users:
            await disclose(user)
            await integrate(database, app)  # a checkpoint per entry

    async def test_an_intact_log_verifies_fully_and_incrementally(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        await self._log_of(client, actors, database, app)
        full = await _verify(db, app)
        assert full.ok and full.mode == "full", full.as_dict()
        assert (full.entries_checked, full.checkpoints_checked, full.tree_size) == (5, 5, 5)
        await self._log_of(client, actors, database, app, 3)
        incremental = await _verify(db, app, full=False)
        assert incremental.ok, incremental.as_dict()
        assert (incremental.mode, incremental.from_size, incremental.entries_checked) == (
            "incremental",
            5,
            3,
        )

    async def test_tampering_with_anything_stored_is_named(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        await self._log_of(client, actors, database, app)
        second = await db.scalar(
            text("SELECT entry_id FROM transparency_leaves WHERE log = 1 AND leaf_index = 1")
        )
        edited = await _tampered(
            db,
            app,
            f"UPDATE disclosure_log SET purpose = 'market_research' WHERE id = {second}",
        )
        assert edited.first_bad is not None
        assert (edited.first_bad.kind, edited.first_bad.entry_id) == ("entry", second)
        gone = await _tampered(db, app, f"DELETE FROM disclosure_log WHERE id = {second}")
        assert (gone.first_bad.kind, gone.first_bad.entry_id) == ("entry", second)  # type: ignore[union-attr]
        leaf = await _tampered(
            db,
            app,
            "UPDATE transparency_leaves SET leaf_hash = sha256('x') WHERE leaf_index = 3 AND log = 1",
        )
        assert (leaf.first_bad.kind, leaf.first_bad.leaf_index) == ("entry", 3)  # type: ignore[union-attr]
        dropped = await _tampered(
            db, app, "DELETE FROM transparency_leaves WHERE leaf_index = 2 AND log = 1"
        )
        assert (dropped.first_bad.kind, dropped.first_bad.leaf_index) == ("leaf", 2)  # type: ignore[union-attr]
        node = await _tampered(
            db,
            app,
            "UPDATE transparency_nodes SET hash = sha256('x') WHERE log = 1 AND level = 2 AND idx = 0",
        )
        assert (node.first_bad.kind, node.first_bad.level, node.first_bad.index) == ("node", 2, 0)  # type: ignore[union-attr]
        forged = await _tampered(
            db,
            app,
            "UPDATE transparency_checkpoints SET note = replace(note, '\n3\n', '\n30\n')"
            " WHERE log = 1 AND tree_size = 3",
        )
        assert (forged.first_bad.kind, forged.first_bad.tree_size) == ("checkpoint", 3)  # type: ignore[union-attr]
        rooted = await _tampered(
            db,
            app,
            "UPDATE transparency_checkpoints SET root_hash = sha256('x') WHERE log = 1 AND tree_size = 4",
        )
        assert (rooted.first_bad.kind, rooted.first_bad.tree_size) == ("checkpoint", 4)  # type: ignore[union-attr]
        orphan = await _tampered(
            db,
            app,
            "INSERT INTO disclosure_log (disclosed_at, subject_ref, recipient_id, recipient_name,"
            " purpose, categories, legal_basis, kind) SELECT now(), subject_ref, recipient_id,"
            " recipient_name, purpose, categories, legal_basis, kind FROM disclosure_log LIMIT 1",
        )
        assert orphan.first_bad is not None and orphan.first_bad.kind == "entry"
        assert "neither in the tree nor waiting" in orphan.first_bad.reason
        assert (await _verify(db, app)).ok, "every change was rolled back"

    async def test_incremental_checks_what_was_verified_and_what_is_new(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        await self._log_of(client, actors, database, app, 4)
        assert (await _verify(db, app)).ok
        await self._log_of(client, actors, database, app, 2)
        # The verified tree of 4 is one node (level 2, index 0): changing it is caught.
        old = await _tampered(
            db,
            app,
            "UPDATE transparency_nodes SET hash = sha256('x') WHERE log = 1 AND level = 2 AND idx = 0",
            full=False,
        )
        assert (old.mode, old.first_bad.kind, old.first_bad.level) == ("incremental", "node", 2)  # type: ignore[union-attr]
        new = await _tampered(
            db,
            app,
            "UPDATE transparency_nodes SET hash = sha256('x') WHERE log = 1 AND level = 1 AND idx = 2",
            full=False,
        )
        assert (new.first_bad.kind, new.first_bad.level, new.first_bad.index) == ("node", 1, 2)  # type: ignore[union-attr]
        truncated = await _tampered(
            db,
            app,
            "DELETE FROM transparency_checkpoints WHERE log = 1 AND tree_size > 3",
            full=False,
        )
        assert truncated.first_bad is not None and "truncated" in truncated.first_bad.reason


async def test_a_witness_checkpoint_proves_growth_and_catches_a_fork(
    client: httpx.AsyncClient, actors: Actors, database, app, db: AsyncSession, settings
) -> None:  # type: ignore[no-untyped-def]
    disclose = Discloser(client, actors)
    await disclose(await actors.user(), await actors.user())
    await integrate(database, app)
    kept = (await client.get("/v1/transparency/disclosure-log/checkpoint")).json()["note"]
    await disclose(await actors.user())
    await integrate(database, app)
    connection = await raw.driver(db)
    grew = await verify.against(connection, app.state.signers, kept)
    assert grew["ok"] and (grew["kept_size"], grew["tree_size"]) == (2, 3), grew
    # The same key signing another tree of size 2: a fork shown to someone else.
    signers: Signers = app.state.signers
    fork = signers.signer(DISCLOSURE_LOG).sign(
        Checkpoint(signers.origin(DISCLOSURE_LOG), 2, sha(b"another tree")).body()
    )
    forked = await verify.against(connection, signers, fork)
    assert not forked["ok"] and "does not extend" in forked["reason"]
    bigger = signers.signer(DISCLOSURE_LOG).sign(
        Checkpoint(signers.origin(DISCLOSURE_LOG), 9, sha(b"x")).body()
    )
    assert "truncated" in (await verify.against(connection, signers, bigger))["reason"]
    stranger = Signer(signers.origin(DISCLOSURE_LOG), Ed25519PrivateKey.generate())
    foreign = await verify.against(
        connection, signers, stranger.sign(Checkpoint(stranger.name, 2, sha(b"x")).body())
    )
    assert not foreign["ok"] and "not a checkpoint we signed" in foreign["reason"]


async def test_the_migration_puts_the_chained_entries_into_the_tree(
    fresh_database, settings
) -> None:  # type: ignore[no-untyped-def]
    url = await fresh_database()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await migrate.upgrade(connection, "0010_erasure_rekeys_proof")
            for n in range(5):
                await connection.execute(
                    text(
                        "INSERT INTO access_log (accessed_at, subject_ref, actor, client_id, role,"
                        " categories, operation, lane, prev_hash, entry_hash) VALUES (now(),"
                        " gen_random_uuid(), 'client:x', 'x', 'staff', ARRAY['profile'], :op,"
                        " 0, '', '')"
                    ),
                    {"op": f"read {n}"},
                )
            await migrate.upgrade(connection)
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            rows = await driver.fetch(
                "SELECT l.leaf_index, l.leaf_hash, e.* FROM transparency_leaves l"
                " JOIN access_log e ON e.id = l.entry_id WHERE l.log = 2 ORDER BY l.leaf_index"
            )
            assert [r["leaf_index"] for r in rows] == [0, 1, 2, 3, 4]
            assert [r["operation"] for r in rows] == [f"read {n}" for n in range(5)]
            for row in rows:
                assert bytes(row["leaf_hash"]) == merkle.leaf_hash(
                    ACCESS_LOG.model.entry_bytes(row)
                )
            signers = Signers(settings)
            async with driver.transaction():
                await sequencer.integrate_all(driver, signers)
                report = await verify.verify(driver, ACCESS_LOG, signers, full=True)
            assert report.ok and report.tree_size == 5, report.as_dict()
    finally:
        await engine.dispose()


async def test_the_audit_commands_end_to_end(
    fresh_database, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from app.cli import cli
    from app.core.settings import get_settings

    url = await fresh_database()
    engine = create_async_engine(url)
    insert = text(
        "INSERT INTO access_log (accessed_at, subject_ref, actor, client_id, role, categories,"
        " operation) SELECT now(), gen_random_uuid(), 'client:x', 'x', 'staff',"
        " ARRAY['profile'], 'read ' || n FROM generate_series(1, :count) n"
    )
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
        await connection.execute(insert, {"count": 7})
    monkeypatch.setenv("REGISTRY_DATABASE_URL", url)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRY_GENERATE_KEYS", "true")
    get_settings.cache_clear()

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args))

    try:
        sequenced = await run("audit", "sequence", "--once")
        assert json.loads(sequenced.stdout) == {"integrated": 7}
        checked = await run("audit", "verify")
        assert checked.exit_code == 0, checked.output
        assert [log["tree_size"] for log in json.loads(checked.stdout)["logs"]] == [0, 7]
        listed = json.loads((await run("audit", "checkpoint", "--log", "access-log")).stdout)
        vkey = listed["checkpoints"][0]["verifier_key"]
        # An outside auditor: the public key alone, no private key anywhere in reach.
        monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path / "elsewhere"))
        get_settings.cache_clear()
        public = await run("audit", "verify", "--log", "access-log", "--verifier-key", vkey)
        assert public.exit_code == 0, public.output
        stranger = Signer(vkey.split("+")[0], Ed25519PrivateKey.generate()).verifier.vkey
        forged = await run(
            "audit", "verify", "--full", "--log", "access-log", "--verifier-key", stranger
        )
        assert forged.exit_code == 1
        assert json.loads(forged.stdout)["logs"][0]["first_bad"]["kind"] == "checkpoint"
        assert not (tmp_path / "elsewhere" / "transparency-ed25519.pem").exists()
        monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        kept = await run("audit", "checkpoint", "--export", "--log", "access-log")
        assert kept.stdout.startswith("huutokaupat.com/registry/access-log\n7\n")
        (tmp_path / "kept.txt").write_text(kept.stdout, encoding="utf-8")
        async with engine.begin() as connection:
            await connection.execute(insert, {"count": 5})
        await run("audit", "sequence", "--once")
        grown = await run("audit", "verify", "--against", str(tmp_path / "kept.txt"))
        assert grown.exit_code == 0, grown.output
        assert json.loads(grown.stdout)["reason"] == "the log grew from 7 to 12 entries"
        incremental = json.loads((await run("audit", "verify", "--log", "access-log")).stdout)
        assert incremental["logs"][0]["mode"] == "incremental"
        assert incremental["logs"][0]["entries_checked"] == 5
        async with engine.begin() as connection:
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(
                text("UPDATE access_log SET operation = 'nothing' WHERE operation = 'read 3'")
            )
        broken = await run("audit", "verify", "--full")
        assert broken.exit_code == 1
        bad = json.loads(broken.stdout)["logs"][1]["first_bad"]
        assert (bad["kind"], bad["leaf_index"]) == ("entry", 2)
    finally:
        get_settings.cache_clear()
        await engine.dispose()


async def test_an_entry_written_on_the_raw_driver_is_in_the_callers_transaction(
    fresh_database,
) -> None:  # type: ignore[no-untyped-def]
    """A log entry goes with its request: rolled back with it, never committed on its own (the
    driver is reached before SQLAlchemy has sent its BEGIN)."""
    from app.audit import entries
    from app.audit.models import AccessLogEntry

    url = await fresh_database()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await migrate.upgrade(connection)
        row = {
            "accessed_at": datetime.now(UTC),
            "subject_ref": uuid.uuid4(),
            "actor": "client:x",
            "client_id": "x",
            "role": "staff",
            "categories": ["profile"],
            "operation": "read_user",
            "request_id": None,
            "correlation_id": None,
        }
        async with AsyncSession(engine) as session:
            await entries.append(session, AccessLogEntry, [row])
            await session.rollback()
        async with AsyncSession(engine) as session:
            await entries.append(session, AccessLogEntry, [row])
            await session.commit()
        async with engine.connect() as connection:
            logged = await connection.scalar(text("SELECT count(*) FROM access_log"))
            queued = await connection.scalar(text("SELECT count(*) FROM transparency_queue"))
        assert (logged, queued) == (1, 1), "the rolled-back entry is gone, the committed one kept"
    finally:
        await engine.dispose()


class TestWhatOnlyAnAttackerWrites:
    """Rows the sequencer never writes, or states it never leaves (found by review)."""

    async def test_leaves_beyond_the_checkpoint_are_named_and_stop_the_sequencer(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        await disclose(await actors.user(), await actors.user())
        await integrate(database, app)
        end = await db.scalar(
            text("SELECT max(tree_size) FROM transparency_checkpoints WHERE log = 1")
        )
        planted = (
            "INSERT INTO transparency_leaves (log, leaf_index, entry_id, leaf_hash, queued_at,"
            f" integrated_at) VALUES (1, {end}, 999999999, sha256('x'), now(), now())"
        )
        report = await _tampered(db, app, planted)
        assert report.first_bad is not None
        assert (report.first_bad.kind, report.first_bad.leaf_index) == ("leaf", end)
        async with db.begin_nested() as savepoint:
            await db.execute(text("SET LOCAL session_replication_role = replica"))
            await db.execute(text(planted))
            with pytest.raises(sequencer.TreeDamaged):
                await sequencer.integrate_all(await raw.driver(db), app.state.signers)
            await savepoint.rollback()

    async def test_incremental_names_a_verified_entry_that_is_gone(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        await disclose(await actors.user(), await actors.user())
        await integrate(database, app)
        assert (await _verify(db, app)).ok
        first = await db.scalar(
            text("SELECT entry_id FROM transparency_leaves WHERE log = 1 AND leaf_index = 0")
        )
        gone = await _tampered(
            db, app, f"DELETE FROM disclosure_log WHERE id = {first}", full=False
        )
        assert gone.first_bad is not None
        assert (gone.first_bad.kind, gone.first_bad.entry_id) == ("entry", first)

    async def test_an_entry_left_waiting_means_no_sequencer_runs(
        self, client, actors, database, app, db
    ) -> None:  # type: ignore[no-untyped-def]
        disclose = Discloser(client, actors)
        await disclose(await actors.user())
        await integrate(database, app)
        await disclose(await actors.user())
        waiting = await db.scalar(text("SELECT entry_id FROM transparency_queue WHERE log = 1"))
        fresh = await _verify(db, app)
        assert fresh.ok and fresh.waiting_for_sequencer == 1, "a second's wait is normal"
        stale = await _tampered(
            db,
            app,
            "UPDATE transparency_queue SET queued_at = now() - interval '2 minutes'",
        )
        assert stale.first_bad is not None and stale.first_bad.entry_id == waiting
        assert "sequencer" in stale.first_bad.reason


async def test_a_failing_round_is_logged_and_retried(fresh_database, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The sequencer never dies quietly: an unexpected error is logged, the lock given back,
    and the next round runs."""
    url = await fresh_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await migrate.upgrade(connection)
    await engine.dispose()
    calls: list[int] = []
    done = asyncio.Event()

    async def flaky(connection: Any, signers: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        done.set()
        return 0

    monkeypatch.setattr(sequencer, "integrate_all", flaky)
    runner = sequencer.Sequencer(url.replace("+asyncpg", "", 1), Signers(settings), 0.1)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(calls) >= 2
