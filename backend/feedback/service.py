"""Feedback: survey answers and comments, with the sentiment derived from the score."""

from __future__ import annotations

from backend import validation
from backend.models import FeedbackKind, Sentiment
from backend.records import Draft, Rules

_SCORES = {FeedbackKind.CSAT: range(1, 6), FeedbackKind.NPS: range(11)}


def sentiment_of(kind: FeedbackKind, score: int | None) -> Sentiment | None:
    """NPS promoters (9-10) and CSAT 4-5 are positive, detractors (0-6) and CSAT 1-2 negative."""
    if score is None:
        return None
    if kind is FeedbackKind.NPS:
        return Sentiment.POSITIVE if score >= 9 else Sentiment.NEUTRAL if score >= 7 else Sentiment.NEGATIVE
    return Sentiment.POSITIVE if score >= 4 else Sentiment.NEUTRAL if score == 3 else Sentiment.NEGATIVE


def _check(draft: Draft) -> None:
    if draft.current is None:
        for name in ("account_id", "kind"):
            if draft.values.get(name) is None:
                draft.error(name, f"{name.removesuffix('_id')} is required")
    draft.check("comment", lambda v: validation.text(v, max_length=10_000))
    draft.check("topic", lambda v: validation.text(v, max_length=100))
    kind = draft.get("kind")
    score = draft.get("score")
    if kind is not None:
        kind = FeedbackKind(kind)
        allowed = _SCORES.get(kind)
        if allowed is None and score is not None:
            draft.error("score", "free-text feedback has no score")
        elif allowed is not None and (score is None or score not in allowed):
            draft.error("score", f"{kind.value.upper()} scores are {allowed.start} to {allowed.stop - 1}")
        elif draft.values.get("sentiment") is None and ("score" in draft.values or draft.current is None):
            draft.values["sentiment"] = sentiment_of(kind, score)
    account = draft.get("account_id")
    for name in ("contact_id", "ticket_id"):
        related = draft.ref(name)
        if related is not None and related["account_id"] not in (None, account):
            draft.error(name, f"this {name.removesuffix('_id')} belongs to another account")


RULES = Rules(
    entity="Feedback",
    references={"contact_id": "Contact", "ticket_id": "Ticket"},
    check=_check,
)
