"""Secrets the application must read back (webhook signing secrets), sealed at rest.

AES-256-GCM under a keyring from `RAPPORT_SECRETS_KEYS` (`id:key,...`, keys are 32 random bytes
in URL-safe base64): the first key seals, every key opens, so a key is rotated by putting a new
one first and running `backend.cli secrets reseal`. A sealed value is `rk1:<key id>:<nonce and
ciphertext>`; its context (what the value belongs to, e.g. the row) is authenticated too, so a
sealed value copied to another row or tenant does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "rk1"
_NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value that no key of the ring opens (wrong key, wrong context, tampered)."""


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        self.current = keys[0][0]
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}

    @classmethod
    def parse(cls, value: str) -> Keyring:
        """`id:key[,id:key...]`; raises ValueError saying what is wrong (never the key)."""
        keys: list[tuple[str, bytes]] = []
        for i, part in enumerate(p.strip() for p in value.split(",")):
            kid, _, encoded = part.partition(":")
            if not kid.isalnum() or len(kid) > 32 or not encoded:
                raise ValueError(f"entry {i + 1} must look like <id of 1 to 32 letters or digits>:<base64 key>")
            try:
                key = _b64decode(encoded)
            except (binascii.Error, ValueError):
                raise ValueError(f"key {kid!r} is not URL-safe base64") from None
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (it is {len(key)})")
            if any(kid == known for known, _ in keys):
                raise ValueError(f"key id {kid!r} appears twice")
            keys.append((kid, key))
        return cls(keys)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.current}:{_b64encode(nonce + sealed)}"

    def open(self, value: str, *, context: str) -> str:
        prefix, kid, payload = [*value.split(":", 2), "", ""][:3]
        cipher = self._ciphers.get(kid)
        if prefix != PREFIX or cipher is None:
            raise SealError(f"sealed with an unknown key ({kid!r})" if prefix == PREFIX else "not a sealed value")
        try:
            data = _b64decode(payload)
            return cipher.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SealError("the sealed value does not open with its key and context") from None

    def is_current(self, value: str) -> bool:
        return value.startswith(f"{PREFIX}:{self.current}:")


@lru_cache(maxsize=4)
def keyring(value: str) -> Keyring:
    """The keyring of a settings value (parsed once per process)."""
    return Keyring.parse(value)


def new_key() -> str:
    return _b64encode(os.urandom(32))
