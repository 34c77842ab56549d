"""The vault definition and the station policy built on it.

A vault is N station keys, a threshold M (the lock level) and the rules every
station enforces. The host defines it; each station installs a *station
policy*: the vault definition plus which of its keys this station holds.

The request's ``policy_digest`` is the digest of the vault definition, which
every station's policy embeds, so one request names the same policy at all N
stations. The sealed digest at a station is that of the whole station
policy (vault plus key label), so nothing in either can change unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from custody.errors import SchemaError
from custody.schemas import strict
from custody.schemas.chain import ChainBinding, binding_from_map
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.digests import Tag, tagged_digest
from custody.schemas.key_record import Algorithm, key_id_for, parse_algorithm

VAULT_UR_TYPE = "x-vault"
POLICY_UR_TYPE = "x-station-policy"
VERSION = 2
MAX_KEYS = 32
MAX_DESTINATIONS = 256
#: Amounts are integers in base units; 128 bits hold any real asset's supply.
MAX_AMOUNT = 2**128 - 1
#: Durations are seconds; a century is more than any rule needs.
MAX_SECONDS = 100 * 366 * 86400
#: Withdrawals and announcements a window may hold; it also bounds how long a request's history is.
MAX_WINDOW_COUNT = 32
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def check_vault_id(value: str, *, what: str) -> str:
    strict.text(value, what=what, name="vault id")
    if not set(value) <= _ID_CHARS:
        raise SchemaError(f"{what}: vault id may hold only a-z, 0-9, '-', '_' and '.'")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    code: str  # what the review screen prints after an amount, e.g. "XCH"
    decimals: int  # base units per whole unit = 10**decimals

    def format(self, amount: int) -> str:
        """An amount in base units as custodians read it: '1,250.000000000001 XCH'."""
        whole, frac = divmod(amount, 10**self.decimals)
        text = f"{whole:,}"
        if self.decimals:
            digits = f"{frac:0{self.decimals}d}".rstrip("0")
            if digits:
                text += "." + digits
        return f"{text} {self.code}"

    def to_map(self) -> dict[str, Any]:
        return {"code": self.code, "decimals": self.decimals}

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> Asset:
        v = strict.fields(value, {"code": str, "decimals": int}, what=f"{what} asset")
        strict.text(v["code"], what=what, name="asset code", max_len=16)
        if not 0 <= v["decimals"] <= 30:
            raise SchemaError(f"{what}: asset decimals must be 0 to 30")
        return cls(code=v["code"], decimals=v["decimals"])


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetLimits:
    """What the per-spend and window rules allow of one asset the vault holds."""

    asset: Asset
    min_per_spend: int
    max_per_spend: int
    window_max: int
    native: bool  # the vault's own asset, which fees are paid in


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultKey:
    station: str
    algorithm: Algorithm
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id_for(self.public_key)

    def to_map(self) -> dict[str, Any]:
        return {"station": self.station, "algorithm": self.algorithm.value, "public_key": self.public_key}

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> VaultKey:
        v = strict.fields(value, {"station": str, "algorithm": str, "public_key": bytes}, what=f"{what} key")
        strict.text(v["station"], what=what, name="key station")
        algorithm = parse_algorithm(v["algorithm"], what=what)
        if len(v["public_key"]) != algorithm.public_key_len:
            raise SchemaError(f"{what}: public key length does not fit {algorithm.value}")
        return cls(station=v["station"], algorithm=algorithm, public_key=v["public_key"])


def keys_to_list(keys: tuple[VaultKey, ...]) -> list[dict[str, Any]]:
    return [k.to_map() for k in keys]


def keys_from_list(value: Any, *, what: str) -> tuple[VaultKey, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_KEYS:
        raise SchemaError(f"{what}: keys must be a list of 1 to {MAX_KEYS} keys")
    keys = tuple(VaultKey.from_map(k, what=what) for k in value)
    if len({k.key_id for k in keys}) != len(keys):
        raise SchemaError(f"{what}: the same key appears twice")
    if len({k.station for k in keys}) != len(keys):
        raise SchemaError(f"{what}: two keys name the same station")
    return keys


_RULE_FIELDS: dict[str, type] = {
    "destinations": list,
    "min_per_spend": int,
    "max_per_spend": int,
    "window_max": int,
    "window_count": int,
    "max_fee": int,
    "window_seconds": int,
    "cooldown_seconds": int,
    "announce_delay_seconds": int,
    "announce_expiry_seconds": int,
    "rekey_delay_seconds": int,
    "max_request_lifetime_seconds": int,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """What every station enforces for the vault; see docs/policy.md for each rule's meaning."""

    destinations: tuple[str, ...]
    min_per_spend: int  # against dust and 1-base-unit probes (the nanakusa pattern)
    max_per_spend: int
    window_max: int
    window_count: int  # withdrawals and announcements per window, whatever their size
    max_fee: int  # the most one request may pay the chain in fees (0 for a statement vault)
    window_seconds: int
    cooldown_seconds: int
    announce_delay_seconds: int  # 0: single-phase withdrawals; >0: announce, wait, execute
    announce_expiry_seconds: int  # how long an announcement stays executable once its delay is over
    rekey_delay_seconds: int
    max_request_lifetime_seconds: int

    @property
    def two_phase(self) -> bool:
        return self.announce_delay_seconds > 0

    def to_map(self) -> dict[str, Any]:
        return {
            name: list(self.destinations) if name == "destinations" else getattr(self, name)
            for name in _RULE_FIELDS
        }

    @classmethod
    def from_map(cls, value: Any, *, what: str) -> Rules:
        v = strict.fields(value, _RULE_FIELDS, what=f"{what} rules")
        dests = v["destinations"]
        if not 1 <= len(dests) <= MAX_DESTINATIONS or not all(isinstance(d, str) for d in dests):
            raise SchemaError(f"{what}: destinations must list 1 to {MAX_DESTINATIONS} strings")
        for d in dests:
            strict.text(d, what=what, name="destination", max_len=128)
        if len(set(dests)) != len(dests) or dests != sorted(dests):
            raise SchemaError(f"{what}: destinations must be sorted and distinct")
        for name in ("min_per_spend", "max_per_spend", "window_max"):
            strict.natural(v[name], what=what, name=name, positive=True, limit=MAX_AMOUNT)
        if v["min_per_spend"] > v["max_per_spend"]:
            raise SchemaError(f"{what}: min_per_spend exceeds max_per_spend")
        if v["max_per_spend"] > v["window_max"]:
            raise SchemaError(f"{what}: max_per_spend exceeds window_max")
        strict.natural(
            v["window_count"], what=what, name="window_count", positive=True, limit=MAX_WINDOW_COUNT
        )
        for name in _RULE_FIELDS:
            if name.endswith("_seconds"):
                positive = name in ("window_seconds", "max_request_lifetime_seconds")
                strict.natural(v[name], what=what, name=name, positive=positive, limit=MAX_SECONDS)
        if v["announce_delay_seconds"] > 0 and v["announce_expiry_seconds"] == 0:
            raise SchemaError(f"{what}: a vault with an announce delay needs an announce expiry")
        return cls(**{**v, "destinations": tuple(dests)})


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultDefinition:
    vault_id: str
    generation: int  # +1 at every rekey or raise-lock
    asset: Asset
    threshold: int
    keys: tuple[VaultKey, ...]
    rules: Rules
    chain: ChainBinding | None = None  # None: a statement vault (custody/schemas/chain.py)
    _digest: bytes = field(default=b"", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = "vault"
        check_vault_id(self.vault_id, what=what)
        if not 1 <= self.threshold <= len(self.keys):
            raise SchemaError(f"{what}: threshold {self.threshold} must be between 1 and {len(self.keys)}")
        if not self.quorums_overlap:
            rules, n = self.rules, len(self.keys)
            if self.share(rules.window_count) < 1 or self.share(rules.window_max) < rules.min_per_spend:
                raise SchemaError(
                    f"{what}: with {self.threshold} of {n} two quorums need not share a station, so each "
                    f"station may sign only {self.threshold}/{n} of the window's limits; this leaves it "
                    "less than one minimum withdrawal. Raise the limits or the threshold."
                )
        if self.chain is not None:
            from custody.chains import adapter_for

            adapter_for(self.chain).check_vault(self)
        object.__setattr__(self, "_digest", tagged_digest(Tag.VAULT, self.to_cbor()))

    def digest(self) -> bytes:
        return self._digest

    @property
    def quorums_overlap(self) -> bool:
        """Any two quorums share a station (2M > N), so the request's history can hide no spend."""
        return 2 * self.threshold > len(self.keys)

    def share(self, limit: int) -> int:
        """A station's share of a window limit when quorums need not overlap: limit * M / N, rounded
        down, so N stations' shares signed M times over add up to at most the limit."""
        return limit * self.threshold // len(self.keys)

    def limits(self, code: str) -> AssetLimits | None:
        """The limits on ``code``: the vault's own asset by its rules, a token its chain lists by its own."""
        if code == self.asset.code:
            r = self.rules
            return AssetLimits(
                asset=self.asset,
                min_per_spend=r.min_per_spend,
                max_per_spend=r.max_per_spend,
                window_max=r.window_max,
                native=True,
            )
        token = self.chain.token(code) if isinstance(self.chain, EvmBinding) else None
        if token is None:
            return None
        return AssetLimits(
            asset=Asset(code=token.symbol, decimals=token.decimals),
            min_per_spend=1,
            max_per_spend=token.max_per_spend,
            window_max=token.window_max,
            native=False,
        )

    def amount_text(self, code: str, amount: int) -> str:
        """With the decimals and symbol of the vault's asset or of a token its chain lists; any other
        code only in base units (the policy refuses it)."""
        limits = self.limits(code)
        return limits.asset.format(amount) if limits is not None else f"{amount} base units of {code}"

    def key(self, key_id: bytes) -> VaultKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def to_map(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "vault_id": self.vault_id,
            "generation": self.generation,
            "asset": self.asset.to_map(),
            "threshold": self.threshold,
            "keys": keys_to_list(self.keys),
            "rules": self.rules.to_map(),
            "chain": self.chain.to_map() if self.chain is not None else None,
        }

    def to_cbor(self) -> bytes:
        return strict.encode(self.to_map())

    @classmethod
    def from_map(cls, value: Any, *, what: str = "vault") -> VaultDefinition:
        if not isinstance(value, dict) or "chain" not in value:
            raise SchemaError(f"{what}: expected a map with a chain field")
        chain = binding_from_map(value["chain"], what=what)
        value = {k: item for k, item in value.items() if k != "chain"}
        v = strict.fields(
            value,
            {
                "version": int,
                "vault_id": str,
                "generation": int,
                "asset": dict,
                "threshold": int,
                "keys": list,
                "rules": dict,
            },
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        strict.natural(v["generation"], what=what, name="generation", positive=True, limit=2**32)
        return cls(
            vault_id=check_vault_id(v["vault_id"], what=what),
            generation=v["generation"],
            asset=Asset.from_map(v["asset"], what=what),
            threshold=v["threshold"],
            keys=keys_from_list(v["keys"], what=what),
            rules=Rules.from_map(v["rules"], what=what),
            chain=chain,
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> VaultDefinition:
        return cls.from_map(strict.decode(data, what="vault"))


@dataclass(frozen=True, slots=True, kw_only=True)
class StationPolicy:
    """The vault as one station enforces it, and which of the vault's keys is this station's."""

    vault: VaultDefinition
    key_label: str
    key_id: bytes

    def __post_init__(self) -> None:
        what = "station policy"
        strict.text(self.key_label, what=what, name="key label")
        if self.vault.key(self.key_id) is None:
            raise SchemaError(f"{what}: the station's key {self.key_id.hex()[:16]} is not in the vault")

    def digest(self) -> bytes:
        return tagged_digest(Tag.STATION_POLICY, self.to_cbor())

    def to_cbor(self) -> bytes:
        return strict.encode(
            {
                "version": VERSION,
                "vault": self.vault.to_map(),
                "key_label": self.key_label,
                "key_id": self.key_id,
            }
        )

    @classmethod
    def from_cbor(cls, data: bytes) -> StationPolicy:
        what = "station policy"
        v = strict.fields(
            strict.decode(data, what=what),
            {"version": int, "vault": dict, "key_label": str, "key_id": bytes},
            what=what,
        )
        strict.version(v["version"], VERSION, what=what)
        return cls(
            vault=VaultDefinition.from_map(v["vault"], what=f"{what} vault"),
            key_label=v["key_label"],
            key_id=strict.sized(v["key_id"], what=what, name="key id", length=32),
        )
