"""The GraphQL API: the strawberry schema assembled from one module per domain."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.access.mutations import Mutation as AccessMutation
from schema.access.queries import Query as AccessQuery
from schema.access.types import Role
from schema.accounts.mutations import Mutation as AccountMutation
from schema.accounts.queries import Query as AccountQuery
from schema.accounts.types import Account
from schema.analytics.queries import Query as AnalyticsQuery
from schema.api_keys.mutations import Mutation as ApiKeyMutation
from schema.api_keys.queries import Query as ApiKeyQuery
from schema.api_keys.types import ApiKey
from schema.audit.queries import Query as AuditQuery
from schema.audit.types import AuditEntry
from schema.contacts.mutations import Mutation as ContactMutation
from schema.contacts.queries import Query as ContactQuery
from schema.contacts.types import Contact
from schema.custom_fields.mutations import Mutation as CustomFieldMutation
from schema.custom_fields.queries import Query as CustomFieldQuery
from schema.customers.mutations import Mutation as CustomerMutation
from schema.customers.queries import Query as CustomerQuery
from schema.customers.types import Merge
from schema.events.subscriptions import Subscription
from schema.feedback.mutations import Mutation as FeedbackMutation
from schema.feedback.queries import Query as FeedbackQuery
from schema.feedback.types import Feedback
from schema.nodes import Query as NodeQuery
from schema.orders.mutations import Mutation as OrderMutation
from schema.orders.queries import Query as OrderQuery
from schema.orders.types import Order, OrderLine
from schema.products.mutations import Mutation as ProductMutation
from schema.products.queries import Query as ProductQuery
from schema.products.types import Product
from schema.scalars import SCALAR_OVERRIDES
from schema.search.queries import Query as SearchQuery
from schema.teams.mutations import Mutation as TeamMutation
from schema.teams.queries import Query as TeamQuery
from schema.teams.types import Team
from schema.tickets.mutations import Mutation as TicketMutation
from schema.tickets.queries import Query as TicketQuery
from schema.tickets.types import Ticket
from schema.users.mutations import Mutation as UserMutation
from schema.users.queries import Query as UserQuery
from schema.users.types import User
from schema.viewer.queries import Query as ViewerQuery
from schema.webhooks.mutations import Mutation as WebhookMutation
from schema.webhooks.queries import Query as WebhookQuery
from schema.webhooks.types import Webhook, WebhookDelivery

Query = merge_types(
    "Query",
    (
        ViewerQuery,
        NodeQuery,
        AccountQuery,
        ContactQuery,
        ProductQuery,
        OrderQuery,
        TicketQuery,
        FeedbackQuery,
        UserQuery,
        SearchQuery,
        AnalyticsQuery,
        CustomFieldQuery,
        CustomerQuery,
        AccessQuery,
        ApiKeyQuery,
        TeamQuery,
        AuditQuery,
        WebhookQuery,
    ),
)

Mutation = merge_types(
    "Mutation",
    (
        AccountMutation,
        ContactMutation,
        ProductMutation,
        OrderMutation,
        TicketMutation,
        FeedbackMutation,
        UserMutation,
        CustomFieldMutation,
        CustomerMutation,
        AccessMutation,
        ApiKeyMutation,
        TeamMutation,
        WebhookMutation,
    ),
)

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[
        Account,
        Contact,
        Feedback,
        Merge,
        Order,
        OrderLine,
        Product,
        Ticket,
        User,
        Role,
        ApiKey,
        Team,
        AuditEntry,
        Webhook,
        WebhookDelivery,
    ],
    scalar_overrides=SCALAR_OVERRIDES,
)
