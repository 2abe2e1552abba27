"""The exceptions a user can meet, in one place.

Every expected failure is a :class:`VaultsyncError`; the CLI turns it into a
clean message and exit code 1. Anything else is a bug and keeps its traceback.
Messages never contain a secret value: they are built from aliases, paths,
status codes and sanitised server messages only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class VaultsyncError(Exception):
    """An expected, user-facing failure (exit code 1, no traceback)."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located by ``where`` (a file path and a place in it)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class InputError(VaultsyncError):
    """Invalid user input (desired-state file, plan file, flags). Carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(VaultsyncError):
    """A command was called in a way that cannot work (missing approval, conflicting flags)."""


class TransportError(VaultsyncError):
    """The server could not be reached or did not answer in time, after all retries."""


class ApiError(VaultsyncError):
    """The server answered with an error status."""

    def __init__(self, method: str, url: str, status: int, detail: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.detail = detail
        super().__init__(f"{method} {url} failed: HTTP {status}: {detail}")


class NotEdcError(ApiError):
    """An answer without EDC's shape (a proxy or sign-on page, another service): not the EDC secrets API."""


class AuthError(ApiError):
    """401/403: the API key was missing or refused."""


class NotFoundError(ApiError):
    """404 where the caller needed the alias to exist."""


class AlreadyExistsError(ApiError):
    """409 on a create-only POST."""


class LockHeldError(VaultsyncError):
    """Another run holds the vault lock."""


class StalePlanError(VaultsyncError):
    """A saved plan no longer matches the vault, the desired values, the state or the URL."""


class Interrupted(VaultsyncError):
    """SIGINT/SIGTERM stopped an apply after in-flight calls finished."""

    exit_code = 130
