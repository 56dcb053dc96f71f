from __future__ import annotations

from tortoise import fields

from backend.models.base import TenantModel


class Product(TenantModel):
    sku = fields.TextField()
    name = fields.TextField()
    description = fields.TextField(null=True)
    price = fields.DecimalField(max_digits=14, decimal_places=2)
    currency = fields.CharField(max_length=3)
    is_active = fields.BooleanField(default=True)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)

    class Meta:
        table = "products"
