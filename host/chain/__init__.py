"""The host's access to chains: a small backend interface, an embedded Simulator, a full node's RPC.

Only the host talks to a chain. Stations never do: what they sign is a
payload the host built from what this package read, and the stations check
it themselves (custody/chains).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from custody.schemas.chain import ChiaBinding
from host.chain.backend import ChiaBackend


def simulator_log(registry: Path) -> Path:
    """The embedded chain's log lives beside the registry: one host, one simulated chain."""
    return registry.with_name(registry.stem + "-chia-simulator.cbor")


def open_backend(binding: ChiaBinding, registry: Path, clock: Callable[[], int]) -> ChiaBackend:
    """The chain a vault lives on: the Simulator for ``simulator``, else the configured full node."""
    if binding.network == "simulator":
        from host.chain.simulator import SimulatorBackend

        return SimulatorBackend(simulator_log(registry), clock())
    from host.chain.full_node import FullNodeBackend, NodeConfig, http_post

    return FullNodeBackend(binding.net, http_post(NodeConfig.from_env()), clock)
