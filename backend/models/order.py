from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.account import Account
    from backend.models.contact import Contact
    from backend.models.product import Product


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentTerms(StrEnum):
    DUE_ON_RECEIPT = "due_on_receipt"
    NET_15 = "net_15"
    NET_30 = "net_30"
    NET_45 = "net_45"
    NET_60 = "net_60"
    NET_90 = "net_90"


class Order(TenantModel):
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="orders", on_delete=fields.NO_ACTION, db_constraint=False
    )
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="orders", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    number = fields.TextField()
    status = fields.CharEnumField(OrderStatus, default=OrderStatus.PENDING)
    ordered_at = fields.DatetimeField()
    delivery_date = fields.DateField(null=True)
    payment_terms = fields.CharEnumField(PaymentTerms, default=PaymentTerms.NET_30)
    currency = fields.CharField(max_length=3)
    total = fields.DecimalField(max_digits=14, decimal_places=2, default=0)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)

    class Meta:
        table = "orders"


class OrderLine(TenantModel):
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="lines", on_delete=fields.CASCADE, db_constraint=False
    )
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="order_lines", on_delete=fields.NO_ACTION, db_constraint=False
    )
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        table = "order_lines"
