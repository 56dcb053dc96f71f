"""Customer-master timings at bench scale: one tenant with 2,000 accounts and 10,000 contacts.

    python -m bench._customers [--accounts 2000] [--contacts 10000] [--rounds 5]

Creates a throw-away database (as RAPPORT_TEST_SUPERUSER_URL, default root@127.0.0.1), loads a
tenant with realistic names, domains, emails and phones (about 5 % planted duplicates) plus a
second tenant of the same size, and prints the time of the duplicate listing, of a create
warning lookup, and of a merge / undo. Numbers only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from uuid_utils.compat import uuid7

from backend import db
from backend.bootstrap import bootstrap, drop_database
from backend.customers import matching, merge
from backend.db import tenant_transaction
from backend.migrations import migrate
from backend.settings import load_settings
from tenants.provisioning import provision_tenant

SUPERUSER_URL = os.environ.get("RAPPORT_TEST_SUPERUSER_URL", "postgresql://root@127.0.0.1:5432/postgres")
# Invented but pronounceable company words ("Brimvostek"), about as varied as real names.
ONSETS = "b c d f g h k l m n p r s t v z br cr dr fr gr kr pr tr bl cl fl gl pl sl st sp sk sh ch th".split()
SYLLABLES = [
    o + v + e for o in ONSETS for v in "a e i o u ai ea ou".split() for e in ("", "", "n", "r", "x", "st", "m", "l")
]
SECTORS = ["", "", "", "Systems", "Labs", "Industries", "Foods", "Logistics", "Media", "Energy", "Health"]
SUFFIXES = ["Inc", "Inc.", "Corp", "Corporation", "LLC", "Ltd", "GmbH", "AG", "Group", "", "", ""]
FIRST = "anna ben carla david emma felix grace henry ida jonas karin leo maria nina oscar paula rita sam".split()
LAST = "smith jones miller brown davis garcia wilson moore taylor anderson thomas lee martin clark lewis".split()


def _with_db(url: str, user: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    scheme, _, rest = head.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme}://{user}@{host}/{name}"


def _company(rng: random.Random) -> tuple[str, str]:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 3, 3])))
    name = f"{word.title()} {rng.choice(SECTORS)} {rng.choice(SUFFIXES)}".replace("  ", " ").strip()
    return name, word + rng.choice([".com", ".io", ".de", ".co.uk"])


async def load(tenant_id: uuid.UUID, accounts: int, contacts: int, seed: int) -> list[uuid.UUID]:
    rng = random.Random(seed)
    account_rows: list[tuple[Any, ...]] = []
    for i in range(accounts):
        name, domain = _company(rng)
        if i and rng.random() < 0.05:  # a planted duplicate of an earlier account
            earlier = account_rows[rng.randrange(len(account_rows))]
            name, domain = earlier[1].upper() + rng.choice([" Inc", ""]), earlier[2]
        account_rows.append((uuid7(), name, domain if rng.random() < 0.8 else None))
    contact_rows: list[tuple[Any, ...]] = []
    for i in range(contacts):
        account = rng.choice(account_rows)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = account[2] or rng.choice(["gmail.com", "outlook.com"])
        email = f"{first}.{last}{rng.randrange(100)}@{domain}"
        phone = f"+1415{rng.randrange(10**7):07d}"
        if i and rng.random() < 0.05:
            earlier = contact_rows[rng.randrange(len(contact_rows))]
            email, phone = earlier[4].upper(), earlier[5]
        contact_rows.append((uuid7(), account[0], first.title(), last.title(), email, phone))
    async with tenant_transaction(tenant_id) as tx:
        await tx.execute(
            "INSERT INTO accounts (tenant_id, id, name, domain) SELECT $1, * FROM unnest($2::uuid[], $3::text[], "
            "$4::text[])",
            tenant_id,
            *map(list, zip(*account_rows, strict=True)),
        )
        await tx.execute(
            "INSERT INTO contacts (tenant_id, id, account_id, first_name, last_name, email, phone) "
            "SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])",
            tenant_id,
            *map(list, zip(*contact_rows, strict=True)),
        )
    return [row[0] for row in account_rows]


async def timed(label: str, rounds: int, run: Callable[[], Awaitable[Any]]) -> Any:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = await run()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{label:<48} median {statistics.median(times):8.1f} ms   min {min(times):8.1f} ms")
    return result


async def main(args: argparse.Namespace) -> None:
    name = f"rapport_bench_customers_{uuid.uuid4().hex[:6]}"
    await bootstrap(SUPERUSER_URL, name)
    try:
        await migrate(_with_db(SUPERUSER_URL, "rapport_owner", name))
        await db.init_db(load_settings(database_url=_with_db(SUPERUSER_URL, "rapport_app", name)))
        try:
            await run(argparse.Namespace(**vars(args), database=name))
        finally:
            await db.close_db()
    finally:
        await drop_database(SUPERUSER_URL, name)


async def run(args: argparse.Namespace) -> None:
    tenant = await provision_tenant("Bench")
    other = await provision_tenant("Other")
    accounts = await load(tenant.id, args.accounts, args.contacts, seed=1)
    await load(other.id, args.accounts, args.contacts, seed=2)
    conn = await asyncpg.connect(_with_db(SUPERUSER_URL, "rapport_owner", args.database))
    try:
        await conn.execute("ANALYZE accounts; ANALYZE contacts")  # as autovacuum would, before timing
    finally:
        await conn.close()
    print(f"tenant: {args.accounts} accounts, {args.contacts} contacts (and a second tenant of the same size)")

    async def groups(entity_name: str) -> list[matching.Group]:
        async with tenant_transaction(tenant.id, readonly=True) as tx:
            return await matching.duplicate_groups(tx, entity_name)

    for entity_name in ("Account", "Contact"):
        found = await timed(
            f"duplicates({entity_name.upper()}) all groups", args.rounds, lambda e=entity_name: groups(e)
        )
        sizes = [len(g.members) for g in found]
        print(f"    {len(found)} groups, {sum(sizes)} members, largest {max(sizes, default=0)}")

    for entity_name, rules in (("Account", matching.AccountRules), ("Contact", matching.ContactRules)):
        switches = [f.name for f in dataclasses.fields(rules) if f.type in (bool, "bool")]
        for name in switches:
            alone = rules(**{other: other == name for other in switches})
            only = matching.MatchRules(**{entity_name.lower(): alone})

            async def pairs(entity_name: str = entity_name, only: matching.MatchRules = only) -> list[Any]:
                async with tenant_transaction(tenant.id, readonly=True) as tx:
                    return await matching._pairs(tx, entity_name, only, matching._Probe())

            found = await timed(f"    {entity_name} {name} alone", args.rounds, pairs)
            print(f"        {len(found)} pairs")

    for count in (1, 50):

        async def warnings(count: int = count) -> list[list[matching.Match]]:
            async with tenant_transaction(tenant.id, readonly=True) as tx:
                rows = await tx.fetch("SELECT * FROM accounts WHERE id = ANY($1)", accounts[:count])
                return await matching.matches_for(tx, "Account", rows)

        await timed(f"create warnings for {count} account(s)", args.rounds, warnings)

    rng = random.Random(3)

    async def merge_and_undo() -> None:
        survivor, *merged = rng.sample(accounts, 6)
        async with tenant_transaction(tenant.id) as tx:
            result = await merge.merge(tx, "Account", survivor, merged)
        async with tenant_transaction(tenant.id) as tx:
            await merge.undo(tx, result.merge["id"])

    await timed("accountMerge (5 merged) + mergeUndo", args.rounds, merge_and_undo)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
