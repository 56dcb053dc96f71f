"""Tortoise models, one module per domain; Tortoise loads every model listed here."""

from backend.models.access import AccessBinding, AccessGrant, AccessRole, AccessScope, Effect, RecordScopeKind
from backend.models.account import Account, LifecycleStage, Tier
from backend.models.api_key import ApiKey, ApiKeySecret
from backend.models.audit import AuditEntry
from backend.models.contact import Contact
from backend.models.custom_field import CustomFieldDefinition, CustomFieldKind
from backend.models.event import Event
from backend.models.feedback import Feedback, FeedbackKind, Sentiment
from backend.models.idempotency import IdempotencyKey, TenantCounter
from backend.models.merge import Merge
from backend.models.order import Order, OrderLine, OrderStatus, PaymentTerms
from backend.models.product import Product
from backend.models.team import Team
from backend.models.tenant import Tenant
from backend.models.ticket import Ticket, TicketChannel, TicketPriority, TicketStatus
from backend.models.user import User
from backend.models.webhook import DeliveryKind, DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessBinding",
    "AccessGrant",
    "AccessRole",
    "AccessScope",
    "Account",
    "ApiKey",
    "ApiKeySecret",
    "AuditEntry",
    "Contact",
    "CustomFieldDefinition",
    "CustomFieldKind",
    "DeliveryKind",
    "DeliveryStatus",
    "Effect",
    "EndpointStatus",
    "Event",
    "Feedback",
    "FeedbackKind",
    "IdempotencyKey",
    "LifecycleStage",
    "Merge",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentTerms",
    "Product",
    "RecordScopeKind",
    "Sentiment",
    "Team",
    "Tenant",
    "TenantCounter",
    "Ticket",
    "TicketChannel",
    "TicketPriority",
    "TicketStatus",
    "Tier",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
