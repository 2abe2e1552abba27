"""The aliases EDC writes into its own vault at run time: vaultsync never claims them."""

from __future__ import annotations

import re

# Aliases EDC writes itself at run time; vaultsync must never claim them.
EDC_OWNED: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"edr--.+", re.DOTALL), "edr--<id>", "the token of an Endpoint Data Reference"),
    (
        re.compile(r"transfer-process-.+-data-address", re.DOTALL),
        "transfer-process-<id>-data-address",
        "a transfer process's data address",
    ),
    (
        re.compile(r"transfer-process-.+-destination-secret", re.DOTALL),
        "transfer-process-<id>-destination-secret",
        "a transfer process's destination secret",
    ),
)


def edc_owned(alias: str) -> str | None:
    """Why ``alias`` belongs to EDC itself (None: it does not)."""
    for pattern, shape, what in EDC_OWNED:
        if pattern.fullmatch(alias):
            return (
                f"matches {shape}, an alias EDC writes itself at run time ({what}); vaultsync never manages "
                "what the connector manages: choose another alias"
            )
    return None
