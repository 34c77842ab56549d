"""A Chia vault's custody with recovery paths: the SDK's pattern for a rekey with fewer signers.

Without recovery (``recovery_signers`` 0) the custody is ``m_of_n`` over the
station keys. With it, the custody is a 1-of-n choice between

- the main quorum ``L``: M of the N keys, which can do anything; and
- for each k from ``recovery_signers`` to M-1, a recovery path ``R_k``: k of
  the N keys, restricted so that the only spend they can make recreates the
  vault under a *scheduled* custody: 1 of [L, a fixed member behind a timelock
  of T_k seconds] (``force_1_of_2_restricted_variable``), with no
  announcements, messages or other coins (``prevent_vault_side_effects``)
  and the singleton recreated (``force_singleton_recreation``).

The fixed member approves exactly one delegated puzzle: recreate the vault
under the new key set's custody, with ``ASSERT_SECONDS_RELATIVE T_k``; it is
wrapped by the timelock restriction, which the chain runs. So after T_k
seconds anyone can push the rekey (it needs no signature), and until then the
main quorum ``L`` can spend the scheduled vault back to its custody: the
cancellation. T_k is the vault's rekey delay plus the penalty for each
missing signer, ``rekey_delay + (M - k) * penalty``, as in the prefarm.

The timelock is a delegated-puzzle wrapper, not a member condition: an ECDSA
member emits no ``ASSERT_SECONDS_RELATIVE`` of its own, so the member-condition
form would make the path unspendable (CHAINS.md). Every hash here is
recomputed from the vault definition by the host and by each station.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from chia_wallet_sdk import (
    Clvm,
    Constants,
    MemberConfig,
    Restriction,
    RestrictionKind,
    Spend,
    curry_tree_hash,
    fixed_member_hash,
    force_1_of_2_restriction,
    force_singleton_recreation_restriction,
    m_of_n_hash,
    prevent_vault_side_effects_restriction,
    timelock_restriction,
    tree_hash_atom,
    tree_hash_pair,
    wrapped_delegated_puzzle_hash,
)

from custody.chains.base import ChainError
from custody.chains.chia.custody import MEMBER, TOP, member_hash
from custody.schemas.chain import ChiaBinding
from custody.schemas.policy_toml import format_duration
from custody.schemas.vault import VaultDefinition, VaultKey

NIL_HASH = tree_hash_atom(b"")


def _list_hash(items: list[bytes]) -> bytes:
    """The tree hash of a list whose items have these tree hashes."""
    out = NIL_HASH
    for item in reversed(items):
        out = tree_hash_pair(item, out)
    return out


def _quoted(tree_hash: bytes) -> bytes:
    return tree_hash_pair(tree_hash_atom(b"\x01"), tree_hash)


def _enforce_wrappers_hash(wrappers: list[bytes]) -> bytes:
    """The delegated-puzzle validator the SDK adds for a member's delegated-puzzle-wrapper restrictions."""
    return curry_tree_hash(
        Constants.enforce_delegated_puzzle_wrappers_hash(),
        [
            tree_hash_atom(_quoted(Constants.add_delegated_puzzle_wrapper_hash())),
            _list_hash([tree_hash_atom(_quoted(w)) for w in wrappers]),
        ],
    )


def timelock(seconds: int) -> Restriction:
    """The chain-enforced wait, as a delegated-puzzle wrapper (never a member condition)."""
    return Restriction(RestrictionKind.DelegatedPuzzleWrapper, timelock_restriction(seconds).puzzle_hash)


@dataclass(frozen=True)  # not slots: the hashes are cached on the instance
class Custody:
    """A vault custody, from its keys, lock level and recovery parameters."""

    members: tuple[bytes, ...]
    threshold: int
    recovery_signers: int = 0
    base_delay: int = 0
    penalty: int = 0

    @classmethod
    def of(cls, keys: tuple[VaultKey, ...], threshold: int, binding: ChiaBinding, base_delay: int) -> Custody:
        return cls(
            tuple(member_hash(k) for k in keys),
            threshold,
            binding.recovery_signers,
            base_delay,
            binding.recovery_penalty_seconds,
        )

    @property
    def paths(self) -> range:
        """The numbers of initiators that may schedule a rekey (empty without recovery)."""
        return range(self.recovery_signers, self.threshold) if self.recovery_signers else range(0)

    def delay(self, initiators: int) -> int:
        return self.base_delay + (self.threshold - initiators) * self.penalty

    @cached_property
    def main(self) -> bytes:
        """The main quorum as a member of the custody (the left side a scheduled rekey keeps)."""
        return m_of_n_hash(MEMBER, self.threshold, list(self.members))

    def validators(self, initiators: int) -> bytes:
        """The delegated-puzzle validators the scheduled rekey's fixed member sits behind: its timelock."""
        return _list_hash([_enforce_wrappers_hash([timelock(self.delay(initiators)).puzzle_hash])])

    def restrictions(self, initiators: int) -> list[Restriction]:
        """What binds the recovery path of ``initiators`` signers: schedule a rekey, nothing else."""
        return [
            force_1_of_2_restriction(self.main, 0, NIL_HASH, self.validators(initiators)),
            *prevent_vault_side_effects_restriction(),
            force_singleton_recreation_restriction(),
        ]

    def path_config(self, initiators: int) -> MemberConfig:
        return MemberConfig().with_restrictions(self.restrictions(initiators))

    def path(self, initiators: int) -> bytes:
        return m_of_n_hash(self.path_config(initiators), initiators, list(self.members))

    @property
    def leaves(self) -> list[bytes]:
        return [self.main, *(self.path(k) for k in self.paths)]

    @cached_property
    def hash(self) -> bytes:
        if not self.paths:
            return m_of_n_hash(TOP, self.threshold, list(self.members))
        return m_of_n_hash(TOP, 1, self.leaves)

    def scheduled(self, initiators: int, next_custody: bytes) -> Scheduled:
        return Scheduled(self.main, self.delay(initiators), next_custody)


@dataclass(frozen=True, slots=True)
class Scheduled:
    """The vault's custody while a slow rekey waits: the main quorum, or the fixed rekey after ``delay``."""

    main: bytes
    delay: int
    next_custody: bytes

    def rekey_spend(self, clvm: Clvm) -> Spend:
        """The one delegated spend the fixed member approves: the vault under its next custody."""
        return clvm.delegated_spend(
            [clvm.create_coin(self.next_custody, 1, None), clvm.assert_seconds_relative(self.delay)]
        )

    @property
    def fixed(self) -> bytes:
        """The wrapped delegated puzzle hash the fixed member requires."""
        inner = self.rekey_spend(Clvm()).puzzle.tree_hash()
        return wrapped_delegated_puzzle_hash([timelock(self.delay)], inner)

    @property
    def fixed_config(self) -> MemberConfig:
        return MemberConfig().with_restrictions([timelock(self.delay)])

    @property
    def fixed_inner(self) -> bytes:
        """The fixed member's own puzzle hash, inside the restriction layer the recovery path forces."""
        return curry_tree_hash(Constants.fixed_puzzle_member_hash(), [tree_hash_atom(self.fixed)])

    @property
    def leaves(self) -> list[bytes]:
        return [self.main, fixed_member_hash(self.fixed_config, self.fixed)]

    @property
    def hash(self) -> bytes:
        return m_of_n_hash(TOP, 1, self.leaves)


def vault_custody(vault: VaultDefinition) -> Custody:
    """The custody a vault definition names, recovery paths included."""
    return successor_custody(vault, vault.keys, vault.threshold)


def successor_custody(vault: VaultDefinition, keys: tuple[VaultKey, ...], threshold: int) -> Custody:
    """The custody after a rekey or raise-lock: new keys or lock level, the same recovery parameters."""
    binding = vault.chain
    if not isinstance(binding, ChiaBinding):
        raise ChainError("this vault is not on Chia")
    return Custody.of(keys, threshold, binding, vault.rules.rekey_delay_seconds)


def custody_rows(
    vault: VaultDefinition, path: int, scheduled: tuple[int, bytes] | None
) -> list[tuple[str, str]]:
    """Who signs this spend, for the review screen."""
    custody = vault_custody(vault)
    quorum = f"the main quorum, {vault.threshold} of {len(vault.keys)}"
    if path:
        wait = format_duration(custody.delay(path))
        return [
            (
                "custody path",
                f"RECOVERY: {path} of {len(vault.keys)} keys schedule a rekey; the chain holds it {wait}, "
                "and the main quorum can cancel it meanwhile",
            )
        ]
    if scheduled is not None:
        wait = format_duration(custody.delay(scheduled[0]))
        return [
            (
                "custody path",
                f"{quorum}; the vault is holding a rekey {scheduled[0]} key(s) scheduled, executable "
                f"{wait} after it was scheduled",
            )
        ]
    return [("custody path", quorum)]
