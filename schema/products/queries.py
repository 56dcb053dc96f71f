from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    product = root_node("Product", description="One product by id; null when it does not exist for you.")
    products = root_connection("Product", description="The tenant's products.")
