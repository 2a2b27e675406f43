"""What the API answers about incoming official warnings (the OpenAPI document is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IncomingAlertOut(BaseModel):
    id: int
    source: str = Field(description="the [[feeds.sources]] name it came from")
    identifier: str
    sender: str
    sent: str = Field(description="ISO 8601 with offset")
    msg_type: str = Field(description="CAP msgType: Alert, Update, Cancel, Ack, Error")
    status: str = Field(description="CAP status: Actual, Exercise, System, Test, Draft")
    event: str | None = None
    severity: str | None = None
    headline: str | None = None
    onset: str | None = None
    expires: str | None = None
    references: str | None = Field(None, description="CAP references: sender,identifier,sent ...")
    state: str = Field(description="drafted, outside, no_area, follow_up or ignored")
    zone_ids: list[int] = Field(default_factory=list, description="the live zones its area reaches")
    campaign_id: int | None = Field(None, description="the draft campaign made from it (or, for a follow-up, flagged)")
    received_at: str


class IncomingAlertPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[IncomingAlertOut]
