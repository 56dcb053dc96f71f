"""Search across accounts and contacts by name, email, phone and domain.

Candidates come from the trigram and prefix indexes (ILIKE / pg_trgm similarity); the best
matches first, ties by id so paging through equal scores is stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from backend.context import TenantContext
from backend.errors import BadInput
from backend.query.entities import entity
from backend.query.sql import Query, Scope, contains_pattern

MAX_RESULTS = 100


@dataclass(frozen=True, slots=True)
class Hit:
    type_name: str
    id: UUID
    score: float


async def search(tx: TenantContext, text: str, *, first: int, scope: Scope | None = None) -> list[Hit]:
    text = text.strip()
    if len(text) < 2:
        raise BadInput("search for at least 2 characters", field="query")
    if len(text) > 200:
        raise BadInput("search for 200 characters at most", field="query")
    if not 1 <= first <= MAX_RESULTS:
        raise BadInput(f"first must be between 1 and {MAX_RESULTS}", field="first")
    q = Query(tx.tenant_id, scope)
    term = q.param(text, "text")
    pattern = q.param(contains_pattern(text), "text")
    digits = re.sub(r"\D", "", text)
    phone_pattern = q.param(contains_pattern(digits), "text") if len(digits) >= 4 else None
    phone_match = f"OR c.phone LIKE {phone_pattern}" if phone_pattern else ""
    phone_score = f"CASE WHEN c.phone LIKE {phone_pattern} THEN 0.8 ELSE 0 END" if phone_pattern else "0"
    # word_similarity scores a term found as (part of) a word in a longer text; a hit on a
    # company's own name or domain outranks a hit inside a contact's email address.
    accounts = (
        f"SELECT 'Account' AS type, a.id, greatest(word_similarity({term}, a.name), "
        f"word_similarity({term}, coalesce(a.domain, '')) * 0.9) AS score FROM accounts a "
        f"WHERE {q.visible(entity('Account'), 'a')} "
        f"AND (a.name ILIKE {pattern} OR a.domain ILIKE {pattern} OR a.name % {term})"
    )
    name = "(c.first_name || ' ' || c.last_name)"
    contacts = (
        f"SELECT 'Contact' AS type, c.id, greatest(word_similarity({term}, {name}), "
        f"word_similarity({term}, coalesce(c.email, '')) * 0.8, "
        f"{phone_score}) AS score "
        f"FROM contacts c WHERE {q.visible(entity('Contact'), 'c')} "
        f"AND ({name} ILIKE {pattern} OR c.email ILIKE {pattern} OR {name} % {term} {phone_match})"
    )
    limit = q.param(first, "int")
    rows = await tx.fetch(
        f"SELECT type, id, score FROM ({accounts} UNION ALL {contacts}) hits "
        f"ORDER BY score DESC, type, id LIMIT {limit}",
        *q.params.values,
    )
    return [Hit(r["type"], r["id"], float(r["score"])) for r in rows]
