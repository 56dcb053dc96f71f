"""Deterministic demo and benchmark data.

The same arguments always produce the same rows (ids included), so a demo tenant looks the
same on every machine and benchmark data sets are reproducible. Rows are written with
multi-row `INSERT ... SELECT FROM unnest(...)` inside the tenant transaction: COPY is not
allowed on tables under row-level security, and RLS must stay on for the application role.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backend.context import TenantContext

_BATCH = 5_000
REFERENCE_TIME = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Emily Noah Emma Liam Olivia Lucas "
    "Sofia Mateo Chloe Yuki Aiko Ravi Priya Chen Mei Ahmed Fatima Lars Ingrid Pierre Camille Hans Greta "
    "Diego Lucia"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Lopez Wilson Anderson "
    "Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Young Allen King Wright "
    "Scott Torres Nguyen Hill Green Adams Baker Hall Rivera Campbell Mitchell Carter Tanaka Sato Patel "
    "Sharma Wang Mueller Schmidt Dubois Moreau Rossi Bianchi Silva Santos Kowalski Novak Johansson Larsen"
).split()
WORD1 = (
    "Acme Globex Initech Umbrella Stark Wayne Wonka Cyberdyne Tyrell Hooli Vandelay Aperture North South "
    "Prime Apex Summit Vertex Nova Stellar Quantum Atlas Orion Zenith Pinnacle Horizon Evergreen Crystal "
    "Rapid Bright Urban Coastal Alpine Pacific Delta Omega Polar Solar Terra Maple Cedar Falcon Eagle"
).split()
WORD2 = (
    "Systems Labs Works Dynamics Solutions Industries Technologies Logistics Partners Holdings Networks "
    "Analytics Foods Motors Energy Health Media Retail Capital Robotics Software Foundry Supply Devices"
).split()
SUFFIX = ["Inc", "LLC", "Ltd", "GmbH", "SA", "Group", "Co", "Corp", "PLC", "AG"]
INDUSTRY = [
    "software", "manufacturing", "retail", "healthcare", "finance", "logistics", "education",
    "media", "energy", "telecom", "hospitality", "construction",
]  # fmt: skip
TITLES = ["CEO", "CTO", "Head of Operations", "Buyer", "Office Manager", "IT Lead", "CFO", "Engineer", None]
PRODUCT_WORDS = (
    "Basic Pro Team Enterprise Support Onboarding Training Storage Seats Analytics Connector Audit Backup "
    "Gateway Sensor Router License Module Cloud Edge"
).split()
SUBJ_A = ["Cannot", "Unable to", "Error when trying to", "Question about how to", "Request to", "Need help to"]
SUBJ_B = [
    "log in", "export invoices", "update billing details", "reset password", "sync contacts",
    "import leads", "generate report", "add a user", "change plan", "connect the API", "configure SSO",
]  # fmt: skip
COMMENTS = {
    "positive": ["Great service", "Fast and helpful team", "Very reliable", "Would recommend"],
    "neutral": ["It works", "Onboarding was okay", "UI could be better"],
    "negative": ["Support was slow", "Too expensive", "Billing is confusing", "Missing integrations"],
}
TOPICS = ["billing", "support", "product", "onboarding", "pricing", "performance"]


@dataclass(frozen=True, slots=True)
class SeedSize:
    accounts: int = 300
    contacts_per_account: int = 4
    orders_per_contact: int = 2
    lines_per_order: int = 2
    tickets_per_contact: int = 1
    feedback_per_contact: int = 1
    products: int = 40
    users: int = 6


@dataclass(frozen=True, slots=True)
class SeedResult:
    users: int
    accounts: int
    contacts: int
    products: int
    orders: int
    order_lines: int
    tickets: int
    feedback: int


def _pick(rng: random.Random, items: Sequence[Any], weights: Sequence[int] | None = None) -> Any:
    return rng.choices(items, weights)[0] if weights else items[rng.randrange(len(items))]


async def _insert(tx: TenantContext, table: str, columns: dict[str, str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ... SELECT FROM unnest(col arrays), in batches; `columns` maps name -> SQL type."""
    names = list(columns)
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(columns.values()))
    sql = f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
    for start in range(0, len(rows), _BATCH):
        chunk = rows[start : start + _BATCH]
        await tx.execute(sql, *[list(col) for col in zip(*chunk, strict=True)])


async def seed_tenant(tx: TenantContext, size: SeedSize, seed: int = 42) -> SeedResult:
    """Write a deterministic customer graph into the tenant of `tx`."""
    rng = random.Random(f"{seed}-{tx.tenant_id}")
    t = tx.tenant_id

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    def past(max_days: int) -> dt.datetime:
        return REFERENCE_TIME - dt.timedelta(seconds=rng.randrange(max_days * 86_400))

    users = []
    for i in range(size.users):
        first, last = _pick(rng, FIRST), _pick(rng, LAST)
        users.append((t, new_id(), f"seed-user-{i}", f"{first}.{last}.{i}@example.com".lower(), f"{first} {last}"))
    await _insert(
        tx, "users", {"tenant_id": "uuid", "id": "uuid", "external_id": "text", "email": "text", "name": "text"}, users
    )
    user_ids = [u[1] for u in users]

    products = []
    for i in range(size.products):
        name = f"{_pick(rng, PRODUCT_WORDS)} {_pick(rng, PRODUCT_WORDS)} {i + 1}"
        price = Decimal(rng.randrange(500, 500_000)) / 100
        products.append((t, new_id(), f"SKU-{i + 1:05d}", name, price, "USD", past(900)))
    await _insert(
        tx,
        "products",
        {
            "tenant_id": "uuid",
            "id": "uuid",
            "sku": "text",
            "name": "text",
            "price": "numeric",
            "currency": "text",
            "created_at": "timestamptz",
        },
        products,
    )

    Row = tuple[Any, ...]
    accounts: list[Row] = []
    contacts: list[Row] = []
    orders: list[Row] = []
    lines: list[Row] = []
    tickets: list[Row] = []
    feedback: list[Row] = []
    order_number = 0
    for a in range(size.accounts):
        account_id = new_id()
        name = f"{_pick(rng, WORD1)} {_pick(rng, WORD2)} {_pick(rng, SUFFIX)}"
        domain = f"{name.split()[0].lower()}{a}.example.com"
        stage = _pick(rng, ["lead", "prospect", "customer", "churned"], [20, 20, 50, 10])
        tier = _pick(rng, ["free", "starter", "pro", "enterprise"], [40, 30, 20, 10])
        parent = accounts[rng.randrange(len(accounts))][1] if accounts and rng.random() < 0.05 else None
        owner = _pick(rng, user_ids) if user_ids and rng.random() < 0.9 else None
        accounts.append((t, account_id, name, domain, _pick(rng, INDUSTRY), parent, owner, stage, tier, past(1500)))
        for c in range(size.contacts_per_account):
            contact_id = new_id()
            first, last = _pick(rng, FIRST), _pick(rng, LAST)
            email = f"{first}.{last}.{a}.{c}@{domain}".lower()
            phone = f"+1{rng.randrange(200, 999)}{rng.randrange(1_000_000, 9_999_999)}"
            contacts.append(
                (
                    t,
                    contact_id,
                    account_id,
                    first,
                    last,
                    email,
                    phone,
                    _pick(rng, TITLES),
                    rng.random() < 0.6,
                    past(1200),
                )
            )
            for _ in range(size.orders_per_contact):
                order_id = new_id()
                order_number += 1
                total = Decimal(0)
                for _ in range(size.lines_per_order):
                    product = _pick(rng, products) if products else None
                    if product is None:
                        break
                    quantity = rng.randrange(1, 10)
                    total += product[4] * quantity
                    lines.append((t, new_id(), order_id, product[1], quantity, product[4]))
                ordered = past(720)
                status = _pick(
                    rng, ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"], [8, 15, 12, 55, 7, 3]
                )
                orders.append(
                    (t, order_id, account_id, contact_id, f"SO-{order_number:07d}", status, ordered,
                     (ordered + dt.timedelta(days=rng.randrange(2, 30))).date(),
                     _pick(rng, ["due_on_receipt", "net_15", "net_30", "net_60"]), "USD", total)
                )  # fmt: skip
            for _ in range(size.tickets_per_contact):
                ticket_id = new_id()
                created = past(365)
                status = _pick(rng, ["open", "pending", "resolved", "closed"], [25, 15, 40, 20])
                resolved = (
                    created + dt.timedelta(hours=rng.randrange(1, 200)) if status in ("resolved", "closed") else None
                )
                tickets.append(
                    (t, ticket_id, account_id, contact_id, f"{_pick(rng, SUBJ_A)} {_pick(rng, SUBJ_B)}", status,
                     _pick(rng, ["low", "normal", "high", "urgent"], [25, 50, 20, 5]),
                     _pick(rng, ["email", "phone", "web", "chat"]), _pick(rng, user_ids) if user_ids else None,
                     created + dt.timedelta(hours=24), resolved, created)
                )  # fmt: skip
            for _ in range(size.feedback_per_contact):
                score = rng.randrange(0, 11)
                sentiment = "positive" if score >= 9 else "neutral" if score >= 7 else "negative"
                feedback.append(
                    (t, new_id(), account_id, contact_id, "nps", score, _pick(rng, COMMENTS[sentiment]),
                     sentiment, _pick(rng, TOPICS), past(365))
                )  # fmt: skip

    # A parent is always generated before its children, so insertion order satisfies the FK.
    await _insert(
        tx,
        "accounts",
        {"tenant_id": "uuid", "id": "uuid", "name": "text", "domain": "text", "industry": "text", "parent_id": "uuid",
         "owner_id": "uuid", "lifecycle_stage": "text", "tier": "text", "created_at": "timestamptz"},
        accounts,
    )  # fmt: skip
    await _insert(
        tx,
        "contacts",
        {"tenant_id": "uuid", "id": "uuid", "account_id": "uuid", "first_name": "text", "last_name": "text",
         "email": "text", "phone": "text", "title": "text", "consent_email": "bool", "created_at": "timestamptz"},
        contacts,
    )  # fmt: skip
    await _insert(
        tx,
        "orders",
        {"tenant_id": "uuid", "id": "uuid", "account_id": "uuid", "contact_id": "uuid", "number": "text",
         "status": "text", "ordered_at": "timestamptz", "delivery_date": "date", "payment_terms": "text",
         "currency": "text", "total": "numeric"},
        orders,
    )  # fmt: skip
    await _insert(
        tx,
        "order_lines",
        {"tenant_id": "uuid", "id": "uuid", "order_id": "uuid", "product_id": "uuid", "quantity": "int4",
         "unit_price": "numeric"},
        lines,
    )  # fmt: skip
    await _insert(
        tx,
        "tickets",
        {"tenant_id": "uuid", "id": "uuid", "account_id": "uuid", "contact_id": "uuid", "subject": "text",
         "status": "text", "priority": "text", "channel": "text", "assignee_id": "uuid", "sla_due_at": "timestamptz",
         "resolved_at": "timestamptz", "created_at": "timestamptz"},
        tickets,
    )  # fmt: skip
    await _insert(
        tx,
        "feedback",
        {"tenant_id": "uuid", "id": "uuid", "account_id": "uuid", "contact_id": "uuid", "kind": "text", "score": "int2",
         "comment": "text", "sentiment": "text", "topic": "text", "created_at": "timestamptz"},
        feedback,
    )  # fmt: skip
    return SeedResult(
        users=len(users),
        accounts=len(accounts),
        contacts=len(contacts),
        products=len(products),
        orders=len(orders),
        order_lines=len(lines),
        tickets=len(tickets),
        feedback=len(feedback),
    )
