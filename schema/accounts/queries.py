from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    account = root_node("Account", description="One account by id; null when it does not exist for you.")
    accounts = root_connection("Account", description="The tenant's accounts.")
