from __future__ import annotations

import strawberry
from strawberry import UNSET

from backend.feedback.service import RULES
from backend.models import FeedbackKind, Sentiment
from schema.mutations import crud_fields


@strawberry.input(description="New feedback; the sentiment follows from the score unless given.")
class FeedbackCreateInput:
    account_id: strawberry.ID
    kind: FeedbackKind
    score: int | None = strawberry.field(default=UNSET, description="CSAT 1-5, NPS 0-10, none for free text.")
    contact_id: strawberry.ID | None = UNSET
    ticket_id: strawberry.ID | None = UNSET
    comment: str | None = UNSET
    sentiment: Sentiment | None = UNSET
    topic: str | None = UNSET


@strawberry.input(description="Changes to feedback (e.g. its topic or sentiment after review).")
class FeedbackUpdateInput:
    score: int | None = UNSET
    comment: str | None = UNSET
    sentiment: Sentiment | None = UNSET
    topic: str | None = UNSET


@strawberry.type
class Mutation:
    (
        feedback_create,
        feedback_entries_create,
        feedback_update,
        feedback_entries_update,
        feedback_delete,
        feedback_entries_delete,
    ) = crud_fields("Feedback", RULES, FeedbackCreateInput, FeedbackUpdateInput, plural="feedbackEntries")
