"""Configuration errors: collected with their location, reported together.

A location is the path into the configuration document as the user wrote it, for example
`plugins[0].config.nodes[2].inputs.headers`. Cold-path code appends to an `Issues` collector
instead of raising on the first problem, so one run of `jqgate check` reports everything.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(Exception):
    """Raised once, after validation, carrying every issue found (`.errors`)."""

    def __init__(self, errors: list[ConfigIssue]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class Issues:
    """Collector for configuration issues; `raise_if_any()` ends a validation pass."""

    def __init__(self) -> None:
        self.items: list[ConfigIssue] = []

    def add(self, location: str, message: str) -> None:
        self.items.append(ConfigIssue(location, message))

    def extend(self, other: "Issues") -> None:
        self.items.extend(other.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def join(location: str, key: str | int) -> str:
    """Extend a location by a key (`a.b`) or an index (`a[3]`)."""
    if isinstance(key, int):
        return f"{location}[{key}]"
    if not location:
        return key
    return f"{location}.{key}"


class StartupError(Exception):
    """The gateway cannot start, for a reason outside the configuration document: a listener's
    address is taken, a TLS file cannot be read. The message names which one."""
