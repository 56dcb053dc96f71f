"""The outbound transport refuses addresses inside the deployment unless allowlisted."""

from __future__ import annotations

import ipaddress

import pytest

from backend.webhooks.transport import Allowlist, Refused, post, resolve
from tests.webhooks.conftest import Receiver

NOBODY = Allowlist.parse(None)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "224.0.0.1", "0.0.0.0",  # noqa: S104
     "::1", "::ffff:127.0.0.1", "fe80::1", "fd00::1"],
)  # fmt: skip
async def test_private_loopback_link_local_and_multicast_are_refused(host: str) -> None:
    with pytest.raises(Refused):
        await resolve(host, 80, NOBODY)


async def test_public_addresses_pass_and_the_allowlist_opens_named_hosts_and_ranges() -> None:
    assert await resolve("93.184.215.14", 443, NOBODY) == ipaddress.ip_address("93.184.215.14")
    assert await resolve("127.0.0.1", 80, Allowlist.parse("127.0.0.1")) == ipaddress.ip_address("127.0.0.1")
    assert await resolve("10.1.2.3", 80, Allowlist.parse("hooks.internal, 10.1.0.0/16"))
    with pytest.raises(Refused):
        await resolve("10.2.0.1", 80, Allowlist.parse("hooks.internal, 10.1.0.0/16"))


async def test_a_refused_request_never_reaches_the_receiver(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    refused = await post(inbox.url, b"{}", {}, allow=NOBODY, timeout_s=5, max_bytes=1024)
    assert not refused.ok and refused.status is None and refused.error is not None
    assert refused.error.startswith("refused: 127.0.0.1")
    assert inbox.requests == []
    allowed = await post(inbox.url, b"{}", {}, allow=Allowlist.parse("127.0.0.0/8"), timeout_s=5, max_bytes=1024)
    assert allowed.ok and allowed.status == 200 and len(inbox.requests) == 1


async def test_a_non_2xx_answer_is_an_error_with_its_first_bytes(receiver: Receiver) -> None:
    inbox = receiver.inbox(otherwise=502)
    outcome = await post(inbox.url, b"{}", {}, allow=Allowlist.parse("127.0.0.1"), timeout_s=5, max_bytes=2)
    assert (outcome.status, outcome.error) == (502, "HTTP 502: no")  # the body "nope", read up to 2 bytes
