"""Immutable records shared by every layer: the desired state and its target.

Values are held with ``repr=False`` so that a stray ``repr()`` in a log line or a
traceback never shows a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vaultsync.notices import PlanWarning

SourceKind = Literal["value", "fromEnv", "fromFile", "json", "fromSops", "fromCommand", "generate"]

DEFAULT_STATE_ALIAS = "vaultsync-state"
DEFAULT_LOCK_ALIAS = "vaultsync-lock"


def canonical_json(doc: Any) -> str:
    """The one serialization vaultsync stores for a ``json`` entry (see the spec)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class DesiredSecret:
    """One alias as the desired-state file wants it."""

    alias: str
    kind: SourceKind
    value: str = field(repr=False)
    description: str | None = None
    structured: bool = False  # a JSON document from elsewhere (fromSops with "json": true)
    # Lifecycle (see vaultsync/lifecycle): a generate entry has no value until apply makes one.
    protect: bool = False
    generate: GenerateSpec | None = None

    @property
    def is_json(self) -> bool:
        return self.kind == "json" or self.structured

    @property
    def is_generated(self) -> bool:
        return self.generate is not None


@dataclass(frozen=True, slots=True)
class GenerateSpec:
    """``{"generate": {"length": N, "charset": ...}}``: how apply makes a value (never stored anywhere else)."""

    length: int
    charset: str = "alphanumeric"


@dataclass(frozen=True, slots=True)
class Move:
    """One ``moved`` entry: rename the managed alias ``source`` to ``dest`` without the value passing through git."""

    source: str
    dest: str
    where: str = ""  # "FILE: moved[N]", for messages


@dataclass(frozen=True, slots=True)
class Target:
    """Connection settings a desired-state file may carry. Never holds a key."""

    url: str | None = None
    api_version: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    """A validated desired-state file, with every reference resolved."""

    path: str
    secrets: Mapping[str, DesiredSecret]
    target: Target = Target()
    warnings: tuple[PlanWarning, ...] = ()  # e.g. a fromFile value ending with a newline
    moved: tuple[Move, ...] = ()
    # Every file merged into this state (several files for one connector); () means just ``path``.
    files: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return self.files or (self.path,)
