from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    contact = root_node("Contact", description="One contact by id; null when it does not exist for you.")
    contacts = root_connection("Contact", description="The tenant's contacts.")
