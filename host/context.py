"""What every host command gets: its arguments, the registry (opened on first use), output and a clock."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from host.registry import Registry

REGISTRY_ENV = "AIRGAP_HOST_REGISTRY"


def default_registry() -> Path:
    if os.environ.get(REGISTRY_ENV):
        return Path(os.environ[REGISTRY_ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "airgap-host" / "registry.db"


@dataclass
class Context:
    args: argparse.Namespace
    out: TextIO
    err: TextIO
    clock: Callable[[], int]
    _registry: Registry | None = field(default=None, init=False)

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.args.registry)
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()

    def say(self, text: str = "") -> None:
        """Lines for people; with --json they go to stderr, so stdout holds only the JSON."""
        (self.err if self.json else self.out).write(text + "\n")

    def warn(self, text: str) -> None:
        self.err.write(f"host: warning: {text}\n")

    def data(self, value: Any) -> None:
        if self.json:
            self.out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
