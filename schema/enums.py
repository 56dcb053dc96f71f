"""The stored enumerations of the models, exposed as GraphQL enums (values UPPER_CASE)."""

import strawberry

from backend.models import (
    CustomFieldKind,
    FeedbackKind,
    LifecycleStage,
    OrderStatus,
    PaymentTerms,
    Sentiment,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    Tier,
)
from schema.filters import EnumFilter

for enum in (
    CustomFieldKind,
    FeedbackKind,
    LifecycleStage,
    OrderStatus,
    PaymentTerms,
    Sentiment,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    Tier,
):
    strawberry.enum(enum)


@strawberry.input(description="Conditions on a lifecycle stage.")
class LifecycleStageFilter(EnumFilter[LifecycleStage]):
    pass


@strawberry.input(description="Conditions on a tier.")
class TierFilter(EnumFilter[Tier]):
    pass


@strawberry.input(description="Conditions on an order status.")
class OrderStatusFilter(EnumFilter[OrderStatus]):
    pass


@strawberry.input(description="Conditions on payment terms.")
class PaymentTermsFilter(EnumFilter[PaymentTerms]):
    pass


@strawberry.input(description="Conditions on a ticket status.")
class TicketStatusFilter(EnumFilter[TicketStatus]):
    pass


@strawberry.input(description="Conditions on a ticket priority.")
class TicketPriorityFilter(EnumFilter[TicketPriority]):
    pass


@strawberry.input(description="Conditions on a ticket channel.")
class TicketChannelFilter(EnumFilter[TicketChannel]):
    pass


@strawberry.input(description="Conditions on a feedback kind.")
class FeedbackKindFilter(EnumFilter[FeedbackKind]):
    pass


@strawberry.input(description="Conditions on a sentiment.")
class SentimentFilter(EnumFilter[Sentiment]):
    pass
