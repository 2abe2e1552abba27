"""Making untrusted strings safe to print on a terminal."""

from __future__ import annotations

import json
import re
from typing import Any

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Escape control characters (and bidi overrides) so a string cannot drive the terminal."""
    return _UNSAFE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


# json.dumps escapes C0 controls itself; these survive ensure_ascii=False and still act on a terminal.
_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable_json(doc: Any) -> str:
    """``doc`` as indented JSON that stays readable (non-ASCII kept) yet cannot drive a terminal."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage that never reads 100% or 0% unless it is exactly that.

    Plain rounding turns 3000 of 3005 into "100%", which a reviewer of a mass deletion reads as "all".
    """
    if whole <= 0 or part in (0, whole):
        return "100%" if whole > 0 and part == whole else "0%"
    share = 100 * part / whole
    for decimals in range(6):
        shown = f"{share:.{decimals}f}"
        if float(shown) not in (0.0, 100.0):
            return f"{shown}%"
    return f"{share:.6g}%"
