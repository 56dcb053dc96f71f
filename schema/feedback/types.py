from __future__ import annotations

import strawberry

from backend.models import FeedbackKind, Sentiment
from schema.fields import Record, node_type, to_one


@node_type("Feedback")
@strawberry.type(description="A survey answer or comment from a customer.")
class Feedback(Record):
    kind: FeedbackKind
    score: int | None = strawberry.field(description="CSAT 1-5, NPS 0-10, none for free text.")
    comment: str | None
    sentiment: Sentiment | None
    topic: str | None

    account = to_one("Feedback", "account")
    contact = to_one("Feedback", "contact")
    ticket = to_one("Feedback", "ticket")
