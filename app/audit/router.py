"""The transparency logs: signed checkpoints (public), inclusion and consistency proofs, and
entries by leaf index for auditors."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from app.audit import proofs
from app.audit.logs import by_name
from app.audit.schemas import CheckpointRead, ConsistencyProof, InclusionProof, LogEntryPage
from app.auth.dependencies import Principal, require
from app.core.errors import AppError, problem_responses
from app.core.pagination import Cursor, InvalidCursor, limit_query
from app.db.session import Session

router = APIRouter(tags=["transparency"])

LogName = Annotated[
    Literal["disclosure-log", "access-log"],
    Path(description="`disclosure-log` (disclosures of personal data) or `access-log` (reads)."),
]
Prover = Annotated[Principal, require("transparency:read")]
Auditor = Annotated[Principal, require("transparency:audit", clients_only=True)]


class EntryOrLeaf(AppError):
    status = 422
    type = "entry-or-leaf"
    title = "Name one entry"


@router.get(
    "/v1/transparency/{log}/checkpoint",
    response_model=CheckpointRead,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(404),
    },
)
async def get_checkpoint(
    log: LogName, session: Session, request: Request, response: Response
) -> CheckpointRead | Response:
    """The latest signed checkpoint of the log (public, no token: anyone may keep it and later
    ask for a consistency proof). `Accept: text/plain` answers the signed note alone."""
    found = await proofs.checkpoint(session, request.app.state.signers, by_name(log))
    accept = request.headers.get("accept", "")
    if "text/plain" in accept and "application/json" not in accept:
        return Response(
            found.note,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )
    response.headers["Cache-Control"] = "no-cache"
    return found


@router.get(
    "/v1/transparency/{log}/proofs/inclusion",
    response_model=InclusionProof,
    responses=problem_responses(401, 403, 404, 422),
)
async def prove_inclusion(
    log: LogName,
    caller: Prover,
    session: Session,
    entry_id: Annotated[int | None, Query(ge=1, description="The entry's id.")] = None,
    leaf_index: Annotated[int | None, Query(ge=0, description="Or its leaf index.")] = None,
    tree_size: Annotated[
        int | None, Query(ge=1, description="Against this tree size (default: the latest).")
    ] = None,
) -> InclusionProof:
    """An RFC 9162 inclusion proof of one entry (scope `transparency:read`: a person for their
    own disclosure entries; the DPO with `transparency:audit` for any)."""
    if (entry_id is None) == (leaf_index is None):
        raise EntryOrLeaf("Give exactly one of entry_id and leaf_index.")
    return await proofs.inclusion(
        session, caller, by_name(log), entry_id=entry_id, leaf_index=leaf_index, tree_size=tree_size
    )


@router.get(
    "/v1/transparency/{log}/proofs/consistency",
    response_model=ConsistencyProof,
    responses=problem_responses(401, 403, 404, 422),
)
async def prove_consistency(
    log: LogName,
    caller: Prover,
    session: Session,
    first: Annotated[int, Query(ge=0, description="The older tree size (one you hold).")],
    second: Annotated[
        int | None, Query(ge=0, description="The newer tree size (default: the latest).")
    ] = None,
) -> ConsistencyProof:
    """An RFC 9162 consistency proof: the tree of `second` leaves extends the tree of `first`
    (scope `transparency:read`; a person for the disclosure log, the DPO for both)."""
    return await proofs.consistency(session, caller, by_name(log), first, second)


@router.get(
    "/v1/transparency/{log}/entries",
    response_model=LogEntryPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_entries(
    log: LogName,
    caller: Auditor,
    session: Session,
    cursor: Cursor = None,
    limit: int = limit_query(100, 1000),
) -> LogEntryPage:
    """Entries with their leaf hashes and the exact bytes hashed, by leaf index from `cursor`
    (a leaf index; default 0), for auditors rebuilding the tree (scope `transparency:audit`)."""
    start = 0
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise InvalidCursor("The cursor is a leaf index (a `next_cursor` of this list).")
        start = int(cursor)
    return await proofs.entries(session, by_name(log), start, limit)
