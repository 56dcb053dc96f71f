"""The GraphQL API: the strawberry schema assembled from one module per domain."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.accounts.queries import Query as AccountQuery
from schema.scalars import SCALAR_OVERRIDES
from schema.viewer.queries import Query as ViewerQuery

Query = merge_types("Query", (ViewerQuery, AccountQuery))

schema = strawberry.Schema(query=Query, scalar_overrides=SCALAR_OVERRIDES)
