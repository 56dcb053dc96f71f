"""Sealed secrets: AES-GCM under a keyring, bound to what they belong to, rotatable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.crypto import Keyring, SealError, new_key

OLD_KEY = "2x6Yc1-9bD3sWq0fJv8LhZ4mTnR5kPu7eGaIoNyB_Es"  # fixed: test ids stay stable
NEW_KEY = new_key()
OLD = Keyring.parse(f"old:{OLD_KEY}")
ROTATED = Keyring.parse(f"new:{NEW_KEY}, old:{OLD_KEY}")


@given(st.text(max_size=300), st.text(max_size=80))
def test_a_sealed_value_opens_to_what_was_sealed(secret: str, context: str) -> None:
    sealed = OLD.seal(secret, context=context)
    assert sealed.startswith("rk1:old:")
    assert OLD.open(sealed, context=context) == secret


def test_sealing_twice_gives_different_values() -> None:
    assert OLD.seal("whsec_same", context="row") != OLD.seal("whsec_same", context="row")


def test_a_value_opens_only_in_its_context_and_untampered() -> None:
    sealed = OLD.seal("whsec_abc", context="tenant-a:row-1")
    with pytest.raises(SealError):
        OLD.open(sealed, context="tenant-b:row-1")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        OLD.open(tampered, context="tenant-a:row-1")
    with pytest.raises(SealError, match="not a sealed value"):
        OLD.open("whsec_in_clear", context="tenant-a:row-1")


def test_rotation_seals_with_the_first_key_and_opens_with_any() -> None:
    before = OLD.seal("whsec_rotate", context="row")
    after = ROTATED.seal("whsec_rotate", context="row")
    assert ROTATED.open(before, context="row") == ROTATED.open(after, context="row") == "whsec_rotate"
    assert not ROTATED.is_current(before) and ROTATED.is_current(after)
    with pytest.raises(SealError, match="unknown key"):
        OLD.open(after, context="row")  # a server that lacks the new key says so


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k1", "entry 1 must look like"),
        (f"k-1:{OLD_KEY}", "entry 1 must look like"),
        (f"k1:{OLD_KEY},", "entry 2 must look like"),
        ("k1:###", "not URL-safe base64"),
        ("k1:c2hvcnQ", "must be 32 bytes (it is 5)"),
        (f"k1:{OLD_KEY},k1:{OLD_KEY}", "appears twice"),
    ],
)
def test_a_malformed_keyring_is_refused_without_showing_keys(value: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        Keyring.parse(value)
    assert problem in str(raised.value)
    assert OLD_KEY not in str(raised.value)
