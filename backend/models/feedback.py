from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.account import Account
    from backend.models.contact import Contact
    from backend.models.ticket import Ticket


class FeedbackKind(StrEnum):
    CSAT = "csat"
    NPS = "nps"
    FREE_TEXT = "free_text"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Feedback(TenantModel):
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="feedback", on_delete=fields.NO_ACTION, db_constraint=False
    )
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="feedback", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="feedback", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    kind = fields.CharEnumField(FeedbackKind)
    score = fields.SmallIntField(null=True, description="csat 1-5, nps 0-10, none for free text")
    comment = fields.TextField(null=True)
    sentiment = fields.CharEnumField(Sentiment, null=True)
    topic = fields.TextField(null=True)

    class Meta:
        table = "feedback"
