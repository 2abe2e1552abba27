"""Value sources that run other programs: sops-encrypted files and opt-in commands.

One :class:`Sources` lives for one run: it decrypts each sops file at most once, keeps every plaintext in
memory only, and knows whether this command may run the programs of ``fromCommand`` entries. Each lookup
returns ``(value, problem)``: a problem is a message fit to print (it names files and programs, never a
value, and never anything a program or sops printed).
"""

from __future__ import annotations

from vaultsync.sources.command import COMMAND_PLACEHOLDER, CommandPolicy
from vaultsync.sources.context import Sources

__all__ = ["COMMAND_PLACEHOLDER", "CommandPolicy", "Sources"]
