"""Installed policies on the station's disk: ``<state>/policies/<vault id>.cbor``.

The file is the working copy the station reads at every request; what makes
it authoritative is its digest sealed in the HSM and the copy logged at
installation. Editing the file changes neither, so it is refused.
"""

from __future__ import annotations

from pathlib import Path

from airgap.files import atomic_write
from appliance.errors import StationStateError
from custody.errors import CustodyError
from custody.schemas.vault import StationPolicy

FOLDER = "policies"


class PolicyMissingError(StationStateError):
    exit_code = 32


def path_for(state_dir: Path, vault_id: str) -> Path:
    return state_dir / FOLDER / f"{vault_id}.cbor"


def load(state_dir: Path, vault_id: str) -> StationPolicy:
    path = path_for(state_dir, vault_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyMissingError(f"no policy for vault {vault_id!r} is installed at this station") from None
    try:
        policy = StationPolicy.from_cbor(data)
    except CustodyError as exc:
        raise StationStateError(f"the installed policy {path} is damaged: {exc}") from None
    if policy.vault.vault_id != vault_id:
        raise StationStateError(f"the installed policy {path} is for vault {policy.vault.vault_id!r}")
    return policy


def save(state_dir: Path, policy: StationPolicy) -> Path:
    path = path_for(state_dir, policy.vault.vault_id)
    atomic_write(path, policy.to_cbor())
    return path


def installed(state_dir: Path) -> list[str]:
    return sorted(p.stem for p in (state_dir / FOLDER).glob("*.cbor"))
