"""One customer master: per-tenant match rules and duplicate detection, set-based in SQL.

The rules (tenant setting `matching`, defaults below, all switchable):
  accounts  SAME_DOMAIN    equal website domains (normalised on write: lower case, no www.)
            EMAIL_DOMAIN   a contact of one account has an email address at the other's domain
            SIMILAR_NAME   pg_trgm similarity of the names, legal forms aside, at or above a threshold
  contacts  SAME_EMAIL     equal addresses, case-insensitive
            SAME_PHONE     equal numbers (E.164, normalised on write)
            SIMILAR_NAME   similar full names within the same account (people share names)
Free-mail domains (gmail.com, outlook.com …) never link accounts.

Every detection is one statement: a `probe` set of rows (the whole tenant for the
`duplicates` listing, the created rows for create warnings, the values about to be inserted
for rejection) joined to the tenant's table once per enabled rule: equality rules through
indexes (0001/0002/0030), similar names through a prefix-filtered trigram join (one pass over
the tenant's names). Grouping pairs into candidate groups (union-find) happens here.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from backend.context import TenantContext
from backend.errors import BadInput, Conflict, FieldError
from backend.naming import camel
from backend.query.entities import SQL_TYPES, entity
from backend.query.sql import Query, Scope
from backend.records import Draft

MIN_THRESHOLD = 0.1
# Up to this many probed accounts, similar names are found by comparing with every name.
FEW_PROBES = 8
# Consumer mailboxes: an address there says nothing about the company behind it.
FREE_MAIL_DOMAINS = (
    "gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de ymail.com hotmail.com hotmail.co.uk "
    "hotmail.fr hotmail.de outlook.com live.com msn.com icloud.com me.com mac.com aol.com gmx.com gmx.de gmx.net "
    "web.de t-online.de proton.me protonmail.com mail.com mail.ru yandex.ru yandex.com qq.com 163.com 126.com "
    "zoho.com fastmail.com hey.com orange.fr free.fr laposte.net libero.it naver.com"
).split()


# -- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountRules:
    same_domain: bool = True
    email_domain: bool = True
    similar_name: bool = True
    name_threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class ContactRules:
    same_email: bool = True
    same_phone: bool = True
    similar_name: bool = True
    name_threshold: float = 0.6


@dataclass(frozen=True, slots=True)
class MatchRules:
    reject_duplicates: bool = False
    account: AccountRules = field(default_factory=AccountRules)
    contact: ContactRules = field(default_factory=ContactRules)


T = TypeVar("T")


def to_json(rules: Any) -> dict[str, Any]:
    """The stored (and GraphQL) form: camelCase keys, nested sections."""
    return {
        camel(f.name): to_json(value) if dataclasses.is_dataclass(value) else value
        for f in dataclasses.fields(rules)
        for value in [getattr(rules, f.name)]
    }


def _apply(current: T, changes: Mapping[str, Any], path: str, errors: list[FieldError]) -> T:
    """`current` with `changes` (camelCase keys, nested sections) applied; problems go to `errors`."""
    known = {camel(f.name): f.name for f in dataclasses.fields(current)}  # type: ignore[arg-type]
    updates: dict[str, Any] = {}
    for key, value in changes.items():
        here = f"{path}.{key}" if path else key
        name = known.get(key)
        if name is None:
            errors.append(FieldError(here, f"there is no match setting '{key}'"))
            continue
        old = getattr(current, name)
        if dataclasses.is_dataclass(old):
            if isinstance(value, Mapping):
                updates[name] = _apply(old, value, here, errors)
            else:
                errors.append(FieldError(here, f"{key} is an object of settings"))
        elif isinstance(old, bool):
            if isinstance(value, bool):
                updates[name] = value
            else:
                errors.append(FieldError(here, f"{key} must be true or false"))
        elif isinstance(value, int | float) and not isinstance(value, bool) and MIN_THRESHOLD <= value <= 1:
            updates[name] = float(value)
        else:
            errors.append(FieldError(here, f"{key} must be a similarity from {MIN_THRESHOLD} to 1"))
    return dataclasses.replace(current, **updates)  # type: ignore[type-var]


def from_json(stored: Any) -> MatchRules:
    """Stored settings over the defaults; keys a newer default added are filled in."""
    if not isinstance(stored, Mapping):
        return MatchRules()
    errors: list[FieldError] = []
    rules = _apply(MatchRules(), stored, "", errors)
    # Stored values passed validation when written; one that no longer fits falls back to its default.
    return rules if not errors else _apply(MatchRules(), _drop(stored, errors), "", [])


def _drop(stored: Mapping[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    bad = {e.field for e in errors}

    def keep(data: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key, value in data.items():
            here = f"{prefix}.{key}" if prefix else key
            if here in bad:
                continue
            kept[key] = keep(value, here) if isinstance(value, Mapping) else value
        return kept

    return keep(stored, "")


async def get_rules(tx: TenantContext) -> MatchRules:
    stored = await tx.fetchval("SELECT settings -> 'matching' FROM tenants WHERE id = $1", tx.tenant_id)
    return from_json(stored)


async def update_rules(tx: TenantContext, changes: Mapping[str, Any], *, path: str = "input") -> MatchRules:
    """Change some settings (camelCase keys, nested like `to_json`); all problems reported at once."""
    errors: list[FieldError] = []
    rules = _apply(await get_rules(tx), changes, path, errors)
    if errors:
        raise BadInput(errors)
    await tx.execute(
        "UPDATE tenants SET settings = jsonb_set(settings, '{matching}', $2::jsonb) WHERE id = $1",
        tx.tenant_id,
        to_json(rules),
    )
    return rules


# -- results ----------------------------------------------------------------------------------


class Rule(StrEnum):
    SAME_DOMAIN = "same_domain"
    EMAIL_DOMAIN = "email_domain"
    SIMILAR_NAME = "similar_name"
    SAME_EMAIL = "same_email"
    SAME_PHONE = "same_phone"


@dataclass(frozen=True, slots=True)
class Reason:
    rule: Rule
    similarity: float | None = None  # SIMILAR_NAME: pg_trgm similarity, 0 to 1
    value: str | None = None  # the value both share (domain, email, phone)


@dataclass(frozen=True, slots=True)
class Match:
    """Another record that looks like the same customer, and why."""

    id: UUID
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Link:
    a: UUID
    b: UUID
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """Records linked directly or through each other; `members[0]` (the oldest id) names it."""

    members: tuple[UUID, ...]
    links: tuple[Link, ...]


class DuplicatesRejected(Conflict):
    """The tenant refuses likely duplicates (`rejectDuplicates`) and these inputs have some."""

    def __init__(self, entity_name: str, found: Sequence[tuple[str, Sequence[Match]]]) -> None:
        self.entity_name = entity_name
        self.found = list(found)
        super().__init__(
            f"likely duplicates of existing {entity_name.lower()}s; this tenant refuses duplicates",
            field=self.found[0][0],
            duplicates=self.describe(str),
        )

    def describe(self, name_id: Callable[[UUID], str]) -> list[dict[str, Any]]:
        """The `duplicates` extension, with ids rendered by `name_id`."""
        return [
            {
                "field": path,
                "matches": [
                    {
                        "id": name_id(m.id),
                        "reasons": [
                            {"rule": r.rule.name, "similarity": r.similarity, "value": r.value} for r in m.reasons
                        ],
                    }
                    for m in matches
                ],
            }
            for path, matches in self.found
        ]


# -- detection --------------------------------------------------------------------------------

# The columns each entity's rules read, in probe order.
_PROBE_COLUMNS = {
    "Account": ("id", "name", "domain"),
    "Contact": ("id", "account_id", "first_name", "last_name", "email", "phone"),
}
ENTITIES = tuple(_PROBE_COLUMNS)
_Hits = list[str]
Row = Mapping[str, Any] | asyncpg.Record


def _name_key(alias: str) -> str:
    """A company name without case, punctuation and legal form (migration 0030)."""
    return f"company_name_key({alias}.name)"


def _full_name(alias: str) -> str:
    return f"({alias}.first_name || ' ' || {alias}.last_name)"


def _account_hits(
    q: Query, rules: AccountRules, target: str, pair: str, *, whole_tenant: bool, few: bool = False
) -> _Hits:
    accounts, contacts = entity("Account"), entity("Contact")
    table = accounts.table if target == "table" else "probe"
    seen = q.visible(accounts, "t") if target == "table" else "true"
    free = q.param(FREE_MAIL_DOMAINS, "text[]") if rules.same_domain or rules.email_domain else ""
    hits = []
    if rules.same_domain:
        hits.append(
            f"SELECT p.id, t.id, '{Rule.SAME_DOMAIN}', NULL::real, p.domain FROM probe p "
            f"JOIN {table} t ON t.domain = p.domain AND {pair} AND {seen} WHERE p.domain <> ALL({free})"
        )
    if rules.similar_name and few:
        # A few probes (a single create): comparing each with every name is cheaper than ranking trigrams.
        names = f"SELECT t.id, {_name_key('t')} AS name_key FROM {table} t WHERE {seen}"
        hits.append(
            f"SELECT p.id, t.id, '{Rule.SIMILAR_NAME}', similarity(t.name_key, p.name_key), NULL FROM probe p "
            f"JOIN ({names if target == 'table' else 'SELECT id, name_key FROM probe'}) t ON {pair} "
            f"AND similarity(t.name_key, p.name_key) >= {q.param(rules.name_threshold, 'real')} "
            "WHERE p.name_key <> ''"
        )
    elif rules.similar_name and target == "table":
        hits.append(_similar_names(q, rules.name_threshold, seen, whole_tenant=whole_tenant))
    if rules.email_domain and target == "table":
        email_domain = "lower(split_part(c.email, '@', 2))"
        # Contacts of other accounts with an address at the probe's domain …
        hits.append(
            f"SELECT DISTINCT p.id, t.id, '{Rule.EMAIL_DOMAIN}', NULL::real, p.domain FROM probe p "
            f"JOIN {contacts.table} c ON {email_domain} = p.domain AND c.account_id <> p.id "
            f"AND {q.visible(contacts, 'c')} "
            f"JOIN {table} t ON t.id = c.account_id AND {seen} WHERE p.domain <> ALL({free})"
        )
        if not whole_tenant:
            # … and the probe's own contacts with an address at another account's domain (over the
            # whole tenant this is the line above seen from the other side).
            hits.append(
                "WITH mine AS MATERIALIZED (SELECT DISTINCT c.account_id AS id, "
                f"{email_domain} AS domain FROM probe p JOIN {contacts.table} c ON c.account_id = p.id "
                f"AND {q.visible(contacts, 'c')} WHERE c.email IS NOT NULL) "
                f"SELECT m.id, t.id, '{Rule.EMAIL_DOMAIN}', NULL::real, t.domain FROM mine m "
                f"JOIN {table} t ON t.domain = m.domain AND t.id <> m.id AND {seen} WHERE t.domain <> ALL({free})"
            )
    return hits


def _similar_names(q: Query, threshold: float, seen: str, *, whole_tenant: bool) -> str:
    """Pairs of similar company names (probe row, other record), without comparing every pair.

    Prefix filtering: order each name's trigrams from rarest to commonest (over the names
    compared); two trigram sets with Jaccard similarity (what pg_trgm's similarity() is) of at
    least s share a trigram among the first n - ceil(s * n) + 1 of each. Candidate pairs come
    from a hash join on those rare trigrams and are then checked exactly. Unlike the trigram
    index, which the planner does not probe once per outer row, this is one pass over the names
    however many rows are probed (a batch create, the whole tenant).
    """
    exact = q.param(threshold, "real")
    loose = q.param(threshold - 1e-6, "float8")  # float4 rounding must not shorten a prefix
    if whole_tenant:
        names = "SELECT id, name_key, true AS probe FROM probe WHERE name_key <> ''"
        pair = "b.id > a.id"
    else:
        # The probe rows (which may be stored already) and every other visible account.
        names = (
            "SELECT id, name_key, true AS probe FROM probe WHERE name_key <> '' UNION ALL "
            f"SELECT t.id, {_name_key('t')}, false FROM accounts t "
            f"WHERE {seen} AND NOT EXISTS (SELECT 1 FROM probe p WHERE p.id = t.id)"
        )
        pair = "a.probe AND b.id <> a.id"
    return (
        f"WITH names AS MATERIALIZED ({names}), "
        "grams AS MATERIALIZED (SELECT k.id, k.probe, k.name_key, g FROM names k "
        "CROSS JOIN LATERAL unnest(show_trgm(k.name_key)) g), "
        "freq AS (SELECT g, count(*) AS f FROM grams GROUP BY g), "
        "ranked AS (SELECT gr.id, gr.probe, gr.name_key, gr.g, count(*) OVER (PARTITION BY gr.id) AS n, "
        "row_number() OVER (PARTITION BY gr.id ORDER BY freq.f, gr.g) AS r FROM grams gr JOIN freq USING (g)), "
        "prefix AS MATERIALIZED (SELECT id, probe, name_key, n, r, g FROM ranked "
        f"WHERE r <= n - ceil({loose} * n) + 1), "
        # Jaccard >= s needs an overlap o >= s (na + nb) / (1 + s); sharing the trigram at ranks ra, rb
        # bounds it by 1 + min(na - ra, nb - rb) (positional filter: true for the first shared
        # one, which both prefixes hold). MATERIALIZED: the exact check runs once per distinct pair.
        "candidates AS MATERIALIZED (SELECT DISTINCT a.id AS a, b.id AS b, a.name_key AS ka, b.name_key AS kb "
        f"FROM prefix a JOIN prefix b ON b.g = a.g AND {pair} "
        f"AND b.n >= {loose} * a.n AND a.n >= {loose} * b.n "  # sizes within a factor s
        f"AND 1 + least(a.n - a.r, b.n - b.r) >= {loose} * (a.n + b.n) / (1 + {loose})) "
        f"SELECT a, b, '{Rule.SIMILAR_NAME}', similarity(ka, kb), NULL FROM candidates "
        f"WHERE similarity(ka, kb) >= {exact}"
    )


def _contact_hits(q: Query, rules: ContactRules, target: str, pair: str, *, whole_tenant: bool) -> _Hits:
    contacts = entity("Contact")
    table = contacts.table if target == "table" else "probe"
    seen = q.visible(contacts, "t") if target == "table" else "true"
    hits = []
    if rules.same_email:
        hits.append(
            f"SELECT p.id, t.id, '{Rule.SAME_EMAIL}', NULL::real, lower(p.email) FROM probe p "
            f"JOIN {table} t ON lower(t.email) = lower(p.email) AND {pair} AND {seen}"
        )
    if rules.same_phone:
        hits.append(
            f"SELECT p.id, t.id, '{Rule.SAME_PHONE}', NULL::real, p.phone FROM probe p "
            f"JOIN {table} t ON t.phone = p.phone AND {pair} AND {seen}"
        )
    if rules.similar_name:
        other = _full_name("t") if target == "table" else "t.full_name"
        score = f"similarity({other}, p.full_name)"
        hits.append(
            f"SELECT p.id, t.id, '{Rule.SIMILAR_NAME}', {score}, NULL FROM probe p "
            f"JOIN {table} t ON t.account_id = p.account_id AND {pair} AND {seen} "
            f"WHERE {score} >= {q.param(rules.name_threshold, 'real')}"
        )
    return hits


@dataclass(frozen=True, slots=True)
class _Probe:
    """Where the probe rows come from: the tenant's table, or values (not necessarily stored)."""

    rows: Sequence[Row] | None = None  # None: every row of the tenant

    @property
    def whole_tenant(self) -> bool:
        return self.rows is None


# What the rules compare, computed once per probe row.
_DERIVED = {"Account": f"{_name_key('b')} AS name_key", "Contact": f"{_full_name('b')} AS full_name"}


def _probe_sql(q: Query, entity_name: str, probe: _Probe) -> str:
    target = entity(entity_name)
    names = _PROBE_COLUMNS[entity_name]
    if probe.rows is None:
        base = f"SELECT {', '.join(names)} FROM {target.table} p WHERE {q.visible(target, 'p')}"
    else:
        arrays = [q.param([row.get(n) for row in probe.rows], SQL_TYPES[target.column(n).kind] + "[]") for n in names]
        base = f"SELECT * FROM unnest({', '.join(arrays)}) AS p({', '.join(names)})"
    return f"SELECT b.*, {_DERIVED[entity_name]} FROM ({base}) b"


async def _pairs(
    tx: TenantContext,
    entity_name: str,
    rules: MatchRules,
    probe: _Probe,
    *,
    scope: Scope | None = None,
    batch_mates: bool = False,
) -> list[asyncpg.Record]:
    """(probe, other, rule, score, value) for every probe row and every record it matches.

    Over the whole tenant each symmetric pair is found once (probe id < other id);
    `batch_mates` also matches the probe rows with each other (values not yet inserted).
    """
    if probe.rows is not None and not probe.rows:
        return []
    q = Query(tx.tenant_id, scope)
    probe_sql = _probe_sql(q, entity_name, probe)
    pair = "t.id > p.id" if probe.whole_tenant else "t.id <> p.id"
    if entity_name == "Account":
        few = probe.rows is not None and len(probe.rows) <= FEW_PROBES
        hits = _account_hits(q, rules.account, "table", pair, whole_tenant=probe.whole_tenant, few=few)
        if batch_mates:
            hits += _account_hits(q, rules.account, "probe", "t.id <> p.id", whole_tenant=False, few=few)
    else:
        hits = _contact_hits(q, rules.contact, "table", pair, whole_tenant=probe.whole_tenant)
        if batch_mates:
            hits += _contact_hits(q, rules.contact, "probe", "t.id <> p.id", whole_tenant=False)
    if not hits:
        return []
    sql = f"WITH probe AS MATERIALIZED ({probe_sql}) " + " UNION ALL ".join(
        f"SELECT * FROM ({h}) AS h{i}" for i, h in enumerate(hits)
    )
    return await tx.fetch(sql, *q.params.values)


def _reasons(rows: Sequence[asyncpg.Record], *, unordered: bool) -> dict[tuple[UUID, UUID], dict[Rule, Reason]]:
    found: dict[tuple[UUID, UUID], dict[Rule, Reason]] = defaultdict(dict)
    for probe, other, rule_value, score, value in rows:
        key = (min(probe, other), max(probe, other)) if unordered else (probe, other)
        rule = Rule(rule_value)
        similarity = None if score is None else round(float(score), 3)
        known = found[key].get(rule)
        if known is None or (similarity or 0) > (known.similarity or 0):
            found[key][rule] = Reason(rule, similarity, value)
    return found


def _ordered(reasons: Mapping[Rule, Reason]) -> tuple[Reason, ...]:
    return tuple(reasons[rule] for rule in Rule if rule in reasons)


def _strength(match: Match) -> tuple[int, float]:
    return len(match.reasons), max((r.similarity or 1.0) for r in match.reasons)


async def duplicate_groups(tx: TenantContext, entity_name: str, *, scope: Scope | None = None) -> list[Group]:
    """Every candidate group of the tenant, ordered by the oldest member id (stable)."""
    rules = await get_rules(tx)
    pairs = _reasons(await _pairs(tx, entity_name, rules, _Probe(), scope=scope), unordered=True)
    parent: dict[UUID, UUID] = {}

    def root(x: UUID) -> UUID:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[UUID, list[UUID]] = defaultdict(list)
    for x in parent:
        members[root(x)].append(x)
    links: dict[UUID, list[Link]] = defaultdict(list)
    for (a, b), reasons in sorted(pairs.items()):
        links[root(a)].append(Link(a, b, _ordered(reasons)))
    return [Group(tuple(sorted(members[r])), tuple(links[r])) for r in sorted(members, key=lambda r: min(members[r]))]


async def matches_for(
    tx: TenantContext, entity_name: str, rows: Sequence[Row], *, scope: Scope | None = None
) -> list[list[Match]]:
    """For each stored row (e.g. just created), the other records it looks like, strongest first."""
    rules = await get_rules(tx)
    found = _reasons(await _pairs(tx, entity_name, rules, _Probe(rows), scope=scope), unordered=False)
    by_probe: dict[UUID, list[Match]] = defaultdict(list)
    for (probe, other), reasons in found.items():
        by_probe[probe].append(Match(other, _ordered(reasons)))
    return [sorted(by_probe.get(row["id"], []), key=lambda m: (*(-v for v in _strength(m)), m.id)) for row in rows]


def _value(entity_name: str, draft: Draft, name: str) -> Any:
    """The value the row will have once inserted (the model default for a field not given)."""
    if name in draft.values:
        return draft.values[name]
    default = entity(entity_name).model._meta.fields_map[name].default
    return None if callable(default) else default


def duplicate_guard(entity_name: str) -> Callable[[TenantContext, list[Draft]], Awaitable[None]]:
    """A `Rules.prepare` step: refuse created records that look like existing ones (or like each
    other) when the tenant has `rejectDuplicates` on. Updates are never refused."""

    async def guard(tx: TenantContext, drafts: list[Draft]) -> None:
        created = [d for d in drafts if d.current is None]
        if not created or any(d.errors for d in drafts):
            return
        rules = await get_rules(tx)
        if not rules.reject_duplicates:
            return
        values = [{name: _value(entity_name, d, name) for name in _PROBE_COLUMNS[entity_name]} for d in created]
        found = _reasons(await _pairs(tx, entity_name, rules, _Probe(values), batch_mates=True), unordered=False)
        by_probe: dict[UUID, list[Match]] = defaultdict(list)
        for (probe, other), reasons in found.items():
            by_probe[probe].append(Match(other, _ordered(reasons)))
        rejected = [(d.path, sorted(by_probe[d.values["id"]], key=lambda m: m.id)) for d in created]
        rejected = [(path, matches) for path, matches in rejected if matches]
        if rejected:
            raise DuplicatesRejected(entity_name, rejected)

    return guard
