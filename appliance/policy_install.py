"""Installing or changing a vault's policy at a station: a ceremony with k cards that seals it.

Rules may change with the station's own quorum. The vault itself (its key
set or lock level) changes only with a signed bundle: the host-built rekey
or raise-lock request, signed by the current vault's stations, which this
station verifies against the policy it has installed. The lock level never
goes down except by a rekey.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from appliance import policy_store
from appliance.cards import PresentedCard
from appliance.errors import ApplianceError, DeclinedError, StationStateError, UsageError
from appliance.screen import Screen
from appliance.station import Station
from custody.errors import CustodyError
from custody.schemas.audit_log import AuditEntry, EntryKind
from custody.schemas.bundle import SignedBundle, check_bundle
from custody.schemas.chain import ChainBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.policy_toml import format_duration
from custody.schemas.request import RaiseLock, Rekey, SlowRekey
from custody.schemas.vault import StationPolicy, VaultDefinition


class PolicyChangeError(ApplianceError):
    """The new policy may not replace the installed one (ratchet, missing or bad authorization)."""

    exit_code = 33


def check_change(
    previous: StationPolicy | None, new: StationPolicy, authorization: bytes | None, now: int
) -> str:
    """Why ``new`` may replace ``previous``, in one line; PolicyChangeError if it may not. Pure."""
    if previous is None:
        return "first installation of this vault at this station"
    old_v, new_v = previous.vault, new.vault
    if new_v.vault_id != old_v.vault_id:
        raise PolicyChangeError("the new policy is for another vault")
    if _moved(old_v.chain, new_v.chain):
        raise PolicyChangeError(
            "a vault never moves: the new policy names another chain, network, launcher or Safe"
        )
    vault_level = (old_v.keys, old_v.threshold, old_v.generation) != (
        new_v.keys,
        new_v.threshold,
        new_v.generation,
    )
    if not vault_level:
        _check_first_nonce(old_v, new_v, None)
        return (
            "same key set and lock level; rules and key label as shown"
            if new != previous
            else "reinstallation"
        )
    if new_v.generation != old_v.generation + 1:
        raise PolicyChangeError(
            f"a change of key set or lock level must raise the generation from {old_v.generation} "
            f"to {old_v.generation + 1}, not {new_v.generation}"
        )
    if authorization is None:
        raise PolicyChangeError(
            "changing the key set or lock level needs the signed rekey or raise-lock bundle (--authorization)"
        )
    try:
        bundle = SignedBundle.from_cbor(authorization)
    except CustodyError as exc:
        raise PolicyChangeError(f"the authorization bundle is unreadable: {exc}") from None
    findings = check_bundle(old_v, bundle)
    if findings:
        raise PolicyChangeError(
            "the authorization bundle is not valid: " + "; ".join(f.text for f in findings)
        )
    action = bundle.request.action
    _check_first_nonce(old_v, new_v, bundle)
    if isinstance(action, Rekey):
        if (action.keys, action.threshold) != (new_v.keys, new_v.threshold):
            raise PolicyChangeError("the new policy's key set or threshold differs from the signed rekey")
        signers = len(bundle.responses)
        return f"rekey signed by {signers} station(s): {len(new_v.keys)} keys, threshold {action.threshold}"
    if isinstance(action, RaiseLock):
        if new_v.keys != old_v.keys or new_v.threshold != action.threshold:
            raise PolicyChangeError(
                "the new policy's key set or threshold differs from the signed raise-lock"
            )
        signers = len(bundle.responses)
        return f"raise-lock signed by {signers} station(s): threshold {old_v.threshold} -> {action.threshold}"
    if isinstance(action, SlowRekey):
        return _slow_rekey_change(old_v, new_v, bundle, action, now)
    raise PolicyChangeError(f"a {action.kind.value} request does not authorize changing the vault")


def _moved(old: ChainBinding | None, new: ChainBinding | None) -> bool:
    """Another chain or Safe; a Safe vault's first nonce alone moves, with its signed owner change."""
    if isinstance(old, EvmBinding) and isinstance(new, EvmBinding):
        return replace(new, first_nonce=old.first_nonce) != old
    return new != old


def _check_first_nonce(old: VaultDefinition, new: VaultDefinition, bundle: SignedBundle | None) -> None:
    """A Safe's next generation starts at the nonce after the owner change that made it, never elsewhere:
    a later first nonce would let a gap through, an earlier one a replay."""
    if not isinstance(old.chain, EvmBinding) or not isinstance(new.chain, EvmBinding):
        return
    if bundle is None:
        if new.chain.first_nonce != old.chain.first_nonce:
            raise PolicyChangeError(
                "a Safe vault's first nonce moves only with a signed change of its owners"
            )
        return
    if new.chain.first_nonce != bundle.request.sequence + 1:
        raise PolicyChangeError(
            f"the new policy's first nonce is {new.chain.first_nonce}; after the signed change at nonce "
            f"{bundle.request.sequence} it must be {bundle.request.sequence + 1}"
        )


def _slow_rekey_change(
    old_v: VaultDefinition, new_v: VaultDefinition, bundle: SignedBundle, action: SlowRekey, now: int
) -> str:
    """A slow rekey changes the vault only once the chain's delay has passed since it was signed.

    The station cannot see the chain, so it cannot tell a rekey pushed through from one the quorum
    cancelled; installing a cancelled one only leaves this station unable to sign for the vault
    (its custody would not match the coin), never able to sign more."""
    if (action.keys, action.threshold) != (new_v.keys, new_v.threshold):
        raise PolicyChangeError("the new policy's key set or threshold differs from the signed slow rekey")
    from custody.chains.chia.recovery import vault_custody

    delay = vault_custody(old_v).delay(action.initiators)
    signed_at = max(r.approved_at for r in bundle.responses)
    if now < signed_at + delay:
        raise PolicyChangeError(
            f"the slow rekey is still held by the chain: install it after {format_duration(delay)} from "
            "its signatures, once the host has pushed it through"
        )
    return (
        f"slow rekey scheduled by {len(bundle.responses)} station(s), held {format_duration(delay)}: "
        f"{len(new_v.keys)} keys, threshold {action.threshold}"
    )


def policy_lines(policy: StationPolicy, why: str) -> list[str]:
    v, r = policy.vault, policy.vault.rules
    lines = [
        "=" * 72,
        "POLICY INSTALLATION: review every line",
        "=" * 72,
        f"vault          {v.vault_id} (generation {v.generation})",
        f"lock level     {v.threshold} of {len(v.keys)} signatures",
        f"asset          {v.asset.code} ({v.asset.decimals} decimals)",
        f"this station   key {policy.key_label!r}, id {policy.key_id.hex()[:16]}",
    ]
    lines += [f"key            {k.station} {k.algorithm.value} id {k.key_id.hex()[:16]}" for k in v.keys]
    lines += [f"destination    {d}" for d in r.destinations]
    lines += [
        f"per spend      {v.asset.format(r.min_per_spend)} to {v.asset.format(r.max_per_spend)}",
        f"window         {v.asset.format(r.window_max)} and {r.window_count} withdrawal(s) "
        f"per {format_duration(r.window_seconds)}",
        "limits         "
        + (
            "vault-wide: any two quorums share a station, so the history each request carries shows all"
            if v.quorums_overlap
            else f"this station's share, {v.threshold}/{len(v.keys)} of each window limit: quorums "
            "need not share a station"
        ),
        f"cooldown       {format_duration(r.cooldown_seconds)}",
        f"announce       delay {format_duration(r.announce_delay_seconds)}, "
        f"then executable for {format_duration(r.announce_expiry_seconds)}",
        f"rekey          delay {format_duration(r.rekey_delay_seconds)}, all {v.threshold} signatures",
        f"request life   at most {format_duration(r.max_request_lifetime_seconds)}",
        f"policy digest  {policy.digest().hex()}",
        f"change         {why}",
        "-" * 72,
    ]
    return lines


def install_policy(
    station: Station,
    policy: StationPolicy,
    presented: Sequence[PresentedCard],
    *,
    screen: Screen,
    authorization: bytes | None = None,
) -> AuditEntry:
    now = station.clock()
    vault_id = policy.vault.vault_id
    record = station.state.keys.get(policy.key_label)
    if record is None:
        raise UsageError(
            f"this station has no key labelled {policy.key_label!r}; run 'appliance keygen' first"
        )
    if record.key_id != policy.key_id:
        raise UsageError(f"key {policy.key_label!r} here is not the key the policy names for this station")
    previous = station.logged_policy(vault_id)
    why = check_change(previous, policy, authorization, now)
    _confirm(screen, policy_lines(policy, why))
    cards = station.check_cards(presented, now)
    digest = policy.digest()
    with station.sealed_session(cards, now) as sealed:
        verified = station.logged_policy(vault_id)  # a cut may have left an unsealed install, now void
        if verified != previous:
            previous, why = verified, check_change(verified, policy, authorization, now)
            note = "The verified log differs from the disk: an installation cut off before its seal is void."
            _confirm(screen, [note, *policy_lines(policy, why)])
        if sealed.seal.policies.get(vault_id) != (previous.digest() if previous else None):
            raise StationStateError(
                "the HSM seal and the audit log disagree about this vault's installed policy"
            )
        entry = sealed.log(
            EntryKind.POLICY_INSTALLED,
            {
                "vault": vault_id,
                "digest": digest,
                "generation": policy.vault.generation,
                "threshold": policy.vault.threshold,
                "policy": policy.to_cbor(),
                "authorization": authorization or b"",
                "why": why,
            },
            now,
            vault=vault_id,
            policy=(vault_id, digest),
        )
    policy_store.save(station.state_dir, policy)
    return entry


def _confirm(screen: Screen, lines: list[str]) -> None:
    """The custodians review the installation and say yes, or nothing is installed."""
    screen.review(lines)
    if not screen.confirm("Custodians: install and seal this policy?"):
        raise DeclinedError("the custodians declined; nothing was installed")
