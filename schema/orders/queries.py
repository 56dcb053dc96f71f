from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    order = root_node("Order", description="One order by id; null when it does not exist for you.")
    orders = root_connection("Order", description="The tenant's orders.")
    order_line = root_node("OrderLine", description="One order line by id.")
