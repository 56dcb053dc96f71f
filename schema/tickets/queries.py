from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    ticket = root_node("Ticket", description="One ticket by id; null when it does not exist for you.")
    tickets = root_connection("Ticket", description="The tenant's tickets (service requests).")
