from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    user = root_node("User", description="One user by id.")
    users = root_connection("User", description="The tenant's users.")
