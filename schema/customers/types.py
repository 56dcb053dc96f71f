"""The customer master's types: match rules, duplicate candidates, merges.

No postponed annotations here: `node_type` reads the real annotations of the Merge type.
"""

import dataclasses
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry

from backend.customers import matching
from backend.customers.merge import moved_counts
from backend.query.entities import entity
from schema import loaders
from schema.compiler import NotCompilable
from schema.fields import Computed, build, node_type
from schema.limits import LIST_SIZE
from schema.relay import Node, to_global_id

strawberry.enum(matching.Rule, name="DuplicateRule", description="Why two records look like the same customer.")


@strawberry.enum(description="The kinds of customer records the master deduplicates.")
class CustomerType(Enum):
    ACCOUNT = "Account"
    CONTACT = "Contact"


@strawberry.type(description="How accounts are matched.")
class AccountMatchRules:
    same_domain: bool = strawberry.field(description="Equal website domains.")
    email_domain: bool = strawberry.field(
        description="A contact of one account has an email address at the other's website domain."
    )
    similar_name: bool = strawberry.field(description="Similar company names (legal forms aside, trigram similarity).")
    name_threshold: float = strawberry.field(description="The similarity (0.1 to 1) from which names match.")


@strawberry.type(description="How contacts are matched.")
class ContactMatchRules:
    same_email: bool = strawberry.field(description="Equal email addresses, case-insensitive.")
    same_phone: bool = strawberry.field(description="Equal phone numbers (E.164).")
    similar_name: bool = strawberry.field(description="Similar full names within the same account.")
    name_threshold: float = strawberry.field(description="The similarity (0.1 to 1) from which names match.")


@strawberry.type(description="The tenant's rules for finding duplicate customers.")
class MatchRules:
    reject_duplicates: bool = strawberry.field(
        description="Refuse to create an account or contact that matches an existing one (CONFLICT)."
    )
    account: AccountMatchRules
    contact: ContactMatchRules

    @classmethod
    def of(cls, rules: matching.MatchRules) -> "MatchRules":
        return cls(
            reject_duplicates=rules.reject_duplicates,
            account=AccountMatchRules(**dataclasses.asdict(rules.account)),
            contact=ContactMatchRules(**dataclasses.asdict(rules.contact)),
        )


@strawberry.type(description="One reason two records look alike.")
class DuplicateReason:
    rule: matching.Rule
    similarity: float | None = strawberry.field(description="For SIMILAR_NAME: the similarity, 0 to 1.")
    value: str | None = strawberry.field(description="The value both records share (domain, email, phone).")

    @classmethod
    def of(cls, reason: matching.Reason) -> "DuplicateReason":
        return cls(rule=reason.rule, similarity=reason.similarity, value=reason.value)


@strawberry.type(description="An existing record that looks like the one at hand, and why.")
class DuplicateMatch:
    node: Node
    reasons: list[DuplicateReason] = strawberry.field(metadata={LIST_SIZE: 4})


@strawberry.type(description="Two members of a group that match directly.")
class DuplicateLink:
    first: Node
    second: Node
    reasons: list[DuplicateReason] = strawberry.field(metadata={LIST_SIZE: 4})


@strawberry.type(description="Records that are likely one customer: linked directly or through each other.")
class DuplicateGroup:
    members: list[Node] = strawberry.field(description="Oldest first.", metadata={LIST_SIZE: 10})
    links: list[DuplicateLink] = strawberry.field(metadata={LIST_SIZE: 10})


@strawberry.type(description="A merged record supplied this field of the survivor.")
class MergeFieldChoice:
    field: str
    from_: strawberry.ID = strawberry.field(name="from")


@strawberry.type(description="Rows of one relation that the merge moved to the survivor.")
class MergeMove:
    relation: str = strawberry.field(description="The relation of the merged records, e.g. contacts.")
    type: str = strawberry.field(description="The type of the moved rows, e.g. Contact.")
    count: int


def _choices(row: Any) -> list[MergeFieldChoice]:
    source_type = row["entity"]
    return [
        MergeFieldChoice(field=field, from_=to_global_id(source_type, UUID(source)))
        for field, source in row["field_choices"].items()
    ]


def _executor_only(alias: str) -> str:
    # Merges are read one at a time (merge(id), node(id), mutation payloads): no compiled plan.
    raise NotCompilable("Merge")


def _computed(python: Callable[[Any], Any]) -> Computed:
    return Computed(python=python, sql=_executor_only)


@node_type(
    "Merge",
    type=_computed(lambda row: CustomerType(row["entity"])),
    survivor_id=_computed(lambda row: to_global_id(row["entity"], row["survivor_id"])),
    merged_ids=_computed(lambda row: [to_global_id(row["entity"], pk) for pk in row["merged_ids"]]),
    field_choices=_computed(_choices),
    moved=_computed(
        lambda row: [
            MergeMove(relation=m.relation, type=m.entity, count=m.count) for m in moved_counts(row["snapshot"])
        ]
    ),
)
@strawberry.type(description="A merge of duplicate records into a survivor; `mergeUndo` restores what it changed.")
class Merge(Node):
    type: CustomerType
    survivor_id: strawberry.ID
    merged_ids: list[strawberry.ID] = strawberry.field(description="The records merged into the survivor (deleted).")
    field_choices: list[MergeFieldChoice]
    moved: list[MergeMove]
    created_at: datetime
    undone_at: datetime | None
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    @strawberry.field(description="The surviving record; null once it is deleted.")
    async def survivor(self, info: strawberry.Info) -> Node | None:
        target = entity(self.row["entity"])
        node: Node | None = build(target.name, await loaders.row_by_id(info.context, target, self.row["survivor_id"]))
        return node
