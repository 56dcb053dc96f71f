from __future__ import annotations

import strawberry

from schema.fields import root_connection, root_node


@strawberry.type
class Query:
    feedback_entry = root_node("Feedback", description="One feedback entry by id.")
    feedback = root_connection("Feedback", description="The tenant's feedback: survey answers and comments.")
