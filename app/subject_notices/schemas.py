"""Shapes of the notices owed to the person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.core.pagination import PageInfo


class NoticeRead(BaseModel):
    id: int = Field(description="Notice number.")
    kind: str = Field(description="`restriction_lifted` or `request_extended`.")
    language: str = Field(description="The language it is written in (the person's).")
    title: str = Field(description="Its title.")
    body: str = Field(description="What the person is told.")
    details: dict[str, Any] = Field(description="The facts it tells of (dates, the request).")
    created_at: datetime = Field(description="When it was written.")
    sent_at: datetime | None = Field(description="When the frontend received it for delivery.")


class NoticePage(PageInfo):
    items: list[NoticeRead] = Field(description="Notices, newest first.")
