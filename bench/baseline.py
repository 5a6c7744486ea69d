"""The framework-and-driver ceiling on this machine: FastAPI, a raw asyncpg pool, one primary-key
SELECT (or one INSERT and commit), a pydantic response model.

    REGISTRY_BENCH_URL=postgresql://... uvicorn bench.baseline:app --port 8001
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["REGISTRY_BENCH_URL"], min_size=10, max_size=int(os.environ.get("POOL", "15"))
    )
    await app.state.pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_inserts (id bigserial PRIMARY KEY, user_id uuid, "
        "decision text, at timestamptz DEFAULT now())"
    )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


class UserOut(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    first_name: str | None
    last_name: str | None
    email: str | None


class Inserted(BaseModel):
    id: int


class Decision(BaseModel):
    decision: str


@app.get("/users/{user_id}", response_model=UserOut)
async def read_user(user_id: uuid.UUID) -> UserOut:
    row = await app.state.pool.fetchrow(
        "SELECT id, kind, status, first_name, last_name, email FROM users WHERE id = $1", user_id
    )
    return UserOut(**dict(row))


@app.post("/users/{user_id}/inserts", response_model=Inserted)
async def insert(user_id: uuid.UUID, body: Decision) -> Inserted:
    row_id = await app.state.pool.fetchval(
        "INSERT INTO bench_inserts (user_id, decision) VALUES ($1, $2) RETURNING id",
        user_id,
        body.decision,
    )
    return Inserted(id=row_id)
