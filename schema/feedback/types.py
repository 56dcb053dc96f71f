from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from backend.models import FeedbackKind, Sentiment
from schema.fields import node_type, to_one
from schema.relay import Node


@node_type("Feedback")
@strawberry.type(description="A survey answer or comment from a customer.")
class Feedback(Node):
    kind: FeedbackKind
    score: int | None = strawberry.field(description="CSAT 1-5, NPS 0-10, none for free text.")
    comment: str | None
    sentiment: Sentiment | None
    topic: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    account = to_one("Feedback", "account")
    contact = to_one("Feedback", "contact")
    ticket = to_one("Feedback", "ticket")
