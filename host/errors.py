"""Host errors: each carries a message fit for the operator and the exit code the CLI returns."""

from __future__ import annotations


class HostError(Exception):
    exit_code = 1


class UsageError(HostError):
    """The command cannot be carried out as asked (unknown vault, missing station, ...)."""

    exit_code = 2


class RegistryError(HostError):
    """The registry database is unusable: newer than this tool, corrupt, or locked."""

    exit_code = 5


class LocalRefusal(HostError):
    """The vault's policy would refuse this request at the stations, so it is not built."""

    exit_code = 22


class ChainUnavailable(HostError):
    """The chain cannot be read or written: the node is unreachable, or the simulator's log is damaged."""

    exit_code = 6


class ChainRejected(HostError):
    """The chain refused a spend bundle; nothing changed on chain."""

    exit_code = 7
