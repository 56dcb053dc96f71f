from __future__ import annotations

import strawberry
from strawberry import UNSET


@strawberry.input(description="Changes to how accounts are matched; only the fields given change.")
class AccountMatchRulesInput:
    same_domain: bool | None = UNSET
    email_domain: bool | None = UNSET
    similar_name: bool | None = UNSET
    name_threshold: float | None = UNSET


@strawberry.input(description="Changes to how contacts are matched; only the fields given change.")
class ContactMatchRulesInput:
    same_email: bool | None = UNSET
    same_phone: bool | None = UNSET
    similar_name: bool | None = UNSET
    name_threshold: float | None = UNSET


@strawberry.input(description="Changes to the tenant's match rules; only the fields given change.")
class MatchRulesInput:
    reject_duplicates: bool | None = UNSET
    account: AccountMatchRulesInput | None = UNSET
    contact: ContactMatchRulesInput | None = UNSET


@strawberry.input(description="Take `field` of the survivor from record `from` (the survivor or a merged one).")
class MergeFieldChoiceInput:
    field: str = strawberry.field(description="A field such as name or parentId, or customFields.<key>.")
    from_: strawberry.ID = strawberry.field(name="from")
