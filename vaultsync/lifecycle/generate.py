"""Generated secrets: values made with ``secrets`` at apply time, never before and never shown."""

from __future__ import annotations

import secrets
import string

from vaultsync.model import DesiredSecret, GenerateSpec

CHARSETS: dict[str, str] = {
    "alphanumeric": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "base64url": string.ascii_letters + string.digits + "-_",
    "ascii": "".join(chr(c) for c in range(0x21, 0x7F)),
}
GENERATED = "(generated value)"


def new_value(spec: GenerateSpec) -> str:
    """A fresh random value: every character drawn independently and uniformly from the charset."""
    alphabet = CHARSETS[spec.charset]
    return "".join(secrets.choice(alphabet) for _ in range(spec.length))


def spec_text(spec: GenerateSpec) -> str:
    """What a saved plan fingerprints for a generate entry: its recipe, since it has no value yet.

    The NUL prefix keeps it from ever equalling a literal value (the vault refuses none, but
    a literal holding exactly this text would otherwise look unchanged)."""
    return f"\x00generate:{spec.length}:{spec.charset}"


def comparable(secret: DesiredSecret) -> str:
    """The text a desired entry is fingerprinted by in a saved plan."""
    return spec_text(secret.generate) if secret.generate is not None else secret.value
