"""Tortoise models, one module per domain; Tortoise loads every model listed here."""

from backend.models.account import Account, LifecycleStage, Tier
from backend.models.contact import Contact
from backend.models.feedback import Feedback, FeedbackKind, Sentiment
from backend.models.order import Order, OrderLine, OrderStatus, PaymentTerms
from backend.models.product import Product
from backend.models.tenant import Tenant
from backend.models.ticket import Ticket, TicketChannel, TicketPriority, TicketStatus
from backend.models.user import User

__all__ = [
    "Account",
    "Contact",
    "Feedback",
    "FeedbackKind",
    "LifecycleStage",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentTerms",
    "Product",
    "Sentiment",
    "Tenant",
    "Ticket",
    "TicketChannel",
    "TicketPriority",
    "TicketStatus",
    "Tier",
    "User",
]
