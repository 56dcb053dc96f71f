"""Global object ids: `base64("<Type>:<uuid>")`, the ids the API shows.

Here rather than in schema/ because webhook bodies (built by jobs) carry the same ids as
the API, so that receivers can pass them to `node(id)`.
"""

from __future__ import annotations

import base64
from uuid import UUID


def global_id(type_name: str, pk: UUID) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()
