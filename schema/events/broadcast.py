"""Event subscriptions whose messages are the same for every subscriber: executed once per event.

`subscription { events(...) { seq type ... } }` without `node` reads nothing but the event,
and a subscriber whose record scope limits no entity sees every event of its tenant: the
payload then depends on the event and the document alone (the field policy was checked when
it subscribed, and is checked again when the policy changes). Such subscribers of one tenant
and document share a `Channel`: each event is executed and encoded once, and every socket
gets the same WebSocket frames, written without a task or a queue per subscriber
(schema/ws.py, backend/events/hub.py `tap`).
"""

from __future__ import annotations

import struct
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    Executor,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_subscription_event,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import AwaitableOrValue

from backend.events.service import Event as StoredEvent
from backend.events.service import matches
from schema.errors import format_errors
from schema.events.types import Event


def shared_field(operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]) -> FieldNode | None:
    """The operation's `events` field when its payload reads nothing but the event."""
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    field = selections[0]
    if field.name.value != "events" or field.directives or _selects_node(field.selection_set, fragments):
        return None
    return field


def _selects_node(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]) -> bool:
    for selection in selection_set.selections if selection_set else ():
        nested: SelectionSetNode | None
        if isinstance(selection, FieldNode) and selection.name.value == "node":
            return True
        if isinstance(selection, FragmentSpreadNode):
            nested = fragments[selection.name.value].selection_set
        else:
            assert isinstance(selection, FieldNode | InlineFragmentNode)
            nested = selection.selection_set
        if _selects_node(nested, fragments):
            return True
    return False


def execute_event(per_event: Executor[Any]) -> AwaitableOrValue[ExecutionResult]:
    """Execute one event of a subscription (graphql-core's `execute_subscription_event`).

    graphql-core memoizes the collected subfields on the executor, keyed by the identity of
    lists that each event's execution creates anew, and a per-event executor shares the
    subscription's memo: left alone, it grows by entries for every event for as long as the
    subscription lives (and full garbage collections over it stall the process). Each event
    gets a memo of its own instead."""
    per_event._relevant_sub_fields = {}
    result: AwaitableOrValue[ExecutionResult] = execute_subscription_event(per_event)
    return result


def payload(result: ExecutionResult, request_id: str) -> dict[str, Any]:
    """The payload of a `next` (legacy: `data`) message."""
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = format_errors(list(result.errors), request_id)
    return body


def frame(text: bytes) -> bytes:
    """A WebSocket text frame from a server (final, unmasked: RFC 6455 section 5.2)."""
    size = len(text)
    if size < 126:
        return bytes((0x81, size)) + text
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + text
    return struct.pack("!BBQ", 0x81, 127, size) + text


class Channel:
    """The subscribers of one tenant and document: the payload of each event, once.

    Every subscriber of the tenant is handed the same page of events in turn, so the encoded
    page (and its frames for each message prefix) is kept until the next page comes."""

    __slots__ = ("__weakref__", "_executor", "_frames", "_page", "_payloads", "_request_id", "after", "types")

    def __init__(self, executor: Executor[Any], arguments: dict[str, Any]) -> None:
        self._executor = executor
        self._request_id = uuid.uuid4().hex  # reported with any error of a shared payload
        self.types: list[str] | None = arguments.get("types")
        self.after: int | None = arguments.get("after")
        self._page: Sequence[StoredEvent] = ()
        self._payloads: list[tuple[int, bytes]] = []
        self._frames: dict[tuple[bytes, int], bytes] = {}

    def messages(self, events: Sequence[StoredEvent], after: int, prefix: bytes) -> bytes:
        """The frames of `prefix + payload + "}"` for each of `events` after seq `after` that
        the document's `types` keep."""
        if events is not self._page:
            self._page, self._payloads, self._frames = events, self._encode(events), {}
        found = self._frames.get((prefix, after))
        if found is None:
            found = b"".join(frame(prefix + body + b"}") for seq, body in self._payloads if seq > after)
            self._frames[(prefix, after)] = found
        return found

    def _encode(self, events: Sequence[StoredEvent]) -> list[tuple[int, bytes]]:
        encoded = []
        for stored in events:
            if self.types is not None and not matches(self.types, stored.type):
                continue
            result = execute_event(self._executor.build_per_event_executor(Event(stored=stored)))
            # Only the event's own fields are selected, and they resolve without waiting.
            assert isinstance(result, ExecutionResult), "a shared event payload awaited"
            encoded.append((stored.seq, orjson.dumps(payload(result, self._request_id))))
        return encoded


class Channels:
    """The channels in use, by tenant and document (dropped with their last subscriber)."""

    def __init__(self) -> None:
        self._channels: weakref.WeakValueDictionary[tuple[Any, ...], Channel] = weakref.WeakValueDictionary()

    def get(self, key: tuple[Any, ...]) -> Channel | None:
        return self._channels.get(key)

    def add(self, key: tuple[Any, ...], executor: Executor[Any], field: FieldNode) -> Channel:
        definition = executor.schema.subscription_type.fields["events"]  # type: ignore[union-attr]
        channel = Channel(executor, get_argument_values(definition, field, executor.variable_values))
        self._channels[key] = channel
        return channel
