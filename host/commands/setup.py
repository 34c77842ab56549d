"""``host enrol`` and ``host vault create | show | export | export-policy``."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from airgap.errors import IncompleteError
from airgap.files import atomic_write
from airgap.scan import Unreadable
from airgap.ur.ur import DecodeLimits
from custody.schemas.chain import ChainBinding, ChiaBinding
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.commitment import SALT_LEN, vault_commitment
from custody.schemas.key_record import UR_TYPE as KEY_RECORD_UR_TYPE
from custody.schemas.key_record import KeyRecord
from custody.schemas.policy_toml import (
    DURATIONS,
    format_duration,
    load_policy_file,
    parse_duration,
    render_policy,
)
from custody.schemas.vault import Asset, Rules, StationPolicy, VaultDefinition, VaultKey
from host.amounts import parse_amount
from host.commands.vault_chain import chain_json, chain_lines
from host.context import Context
from host.errors import UsageError
from host.inputs import read_small
from host.registry import VaultRow
from host.text import grouped, when


def _read_record(ctx: Context) -> KeyRecord:
    if ctx.args.file is not None:
        return KeyRecord.from_cbor(read_small(ctx.args.file, "key record"))
    from host.scanning import scan_messages

    for item in scan_messages(
        ctx.args.scan,
        frozenset({KEY_RECORD_UR_TYPE}),
        DecodeLimits(max_message_len=4096, max_seq_len=64),
        in_process=ctx.args.in_process_decoder,
    ):
        if isinstance(item, Unreadable):
            times = f" ({item.count} times)" if item.count > 1 else ""
            ctx.say(f"note: unreadable input ignored{times}: {item.reason}")
            continue
        return KeyRecord.from_cbor(item.cbor)
    raise IncompleteError(f"no complete key record was read from {ctx.args.scan}")


def cmd_enrol(ctx: Context) -> int:
    record = _read_record(ctx)
    added = ctx.registry.add_station(record, ctx.clock())
    ctx.data(
        {
            "station": record.station,
            "key_id": record.key_id.hex(),
            "algorithm": record.algorithm.value,
            "label": record.label,
            "token_serial": record.token_serial,
            "new": added,
        }
    )
    ctx.say(f"{'enrolled' if added else 'already enrolled'}: {record.station}")
    ctx.say(f"  key         {record.label!r}, {record.algorithm.value}, token {record.token_serial}")
    ctx.say(f"  key id      {grouped(record.key_id)}")
    ctx.say("  Compare the key id, group by group, with the one the station shows, before using this key.")
    return 0


def _template(ctx: Context) -> tuple[Asset | None, dict[str, Any], ChainBinding | None]:
    """The asset, rules and chain settings of a policy file to start from (its keys are not used)."""
    if ctx.args.template is None:
        return None, {}, None
    policy = load_policy_file(Path(ctx.args.template))
    rules = policy.vault.rules
    return policy.vault.asset, {name: getattr(rules, name) for name in rules.__slots__}, policy.vault.chain


def _asset(text: str) -> Asset:
    code, _, decimals = text.partition(":")
    if not code or not decimals.isdigit():
        raise UsageError(f"--asset {text!r}: write CODE:DECIMALS, e.g. XCH:12")
    return Asset(code=code, decimals=int(decimals))


def _pick_key(ctx: Context, spec: str, vault_id: str) -> KeyRecord:
    """The enrolled key ``NAME[:LABEL]`` names: the station's only key, its key labelled like the
    vault, or the label given."""
    name, _, label = spec.partition(":")
    rows = ctx.registry.station_keys(name)
    if not rows:
        raise UsageError(f"station {name!r} is not enrolled; run 'host enrol' for it first")
    if label:
        chosen = [r for r in rows if r.record.label == label]
    elif len(rows) == 1:
        chosen = rows
    else:
        chosen = [r for r in rows if r.record.label == vault_id]
    if len(chosen) != 1:
        labels = ", ".join(repr(r.record.label) for r in rows)
        raise UsageError(f"station {name!r} holds keys {labels}: name one as {name}:LABEL")
    return chosen[0].record


def vault_keys(ctx: Context, specs: list[str], vault_id: str) -> tuple[VaultKey, ...]:
    """The vault's keys, one per station; a key that guards another vault is refused (one per vault)."""
    keys = []
    for spec in specs:
        record = _pick_key(ctx, spec, vault_id)
        elsewhere = [
            other
            for other in ctx.registry.vault_ids()
            if other != vault_id
            and (row := ctx.registry.vault(other)) is not None
            and row.definition.key(record.key_id) is not None
        ]
        if elsewhere:
            raise UsageError(
                f"{record.station}'s key {record.label!r} already guards vault {elsewhere[0]!r}; "
                "a station holds one key per vault (appliance keygen a new one)"
            )
        keys.append(
            VaultKey(station=record.station, algorithm=record.algorithm, public_key=record.public_key)
        )
    stations = [k.station for k in keys]
    if len(set(stations)) != len(stations):
        raise UsageError("a station is named twice")
    return tuple(keys)


def cmd_vault_create(ctx: Context) -> int:
    a = ctx.args
    asset, rules, template_chain = _template(ctx)
    if a.asset is not None:
        asset = _asset(a.asset)
    chain: ChainBinding | None = None
    if a.chain == "bitcoin":
        from host.commands.bitcoin import BTC

        asset = asset or BTC  # the binding names the keys' address: made once the keys are known
    elif a.chain == "evm":
        from host.commands.evm import evm_asset

        template_evm = template_chain if isinstance(template_chain, EvmBinding) else None
        asset, chain = evm_asset(ctx, asset, template_evm)
    elif a.chain is not None:
        from host.commands.chain import chain_asset

        template = template_chain if isinstance(template_chain, ChiaBinding) else None
        asset, chain = chain_asset(ctx, asset, template)
    if asset is None:
        raise UsageError("say which asset the vault holds: --asset CODE:DECIMALS, or --template FILE")
    if a.destination:
        rules["destinations"] = tuple(sorted(set(a.destination)))
    for flag in ("min_per_spend", "max_per_spend", "window_max", "max_fee"):
        if getattr(a, flag) is not None:
            rules[flag] = parse_amount(getattr(a, flag), asset, zero=flag == "max_fee")
    for flag, name in DURATIONS.items():
        if getattr(a, flag) is not None:
            try:
                rules[name] = parse_duration(getattr(a, flag))
            except ValueError as exc:
                raise UsageError(f"--{flag.replace('_', '-')}: {exc}") from None
    if a.window_count is not None:
        rules["window_count"] = a.window_count
    missing = [f for f in Rules.__slots__ if f not in rules]
    if missing:
        flags = ", ".join("--" + f.replace("_seconds", "").replace("_", "-") for f in missing)
        raise UsageError(f"these rules are not set: {flags} (or start from --template FILE)")
    keys = vault_keys(ctx, a.station, a.vault_id)
    if a.chain == "bitcoin":
        from host.commands.bitcoin import bitcoin_binding

        template_btc = template_chain if isinstance(template_chain, BitcoinBinding) else None
        asset, chain = bitcoin_binding(ctx, asset, keys, template_btc)
    definition = VaultDefinition(
        vault_id=a.vault_id,
        generation=1,
        asset=asset,
        threshold=a.threshold,
        keys=keys,
        rules=Rules(**rules),
        chain=chain,
    )
    VaultDefinition.from_cbor(definition.to_cbor())  # the station's own checks, rule ranges included
    if isinstance(chain, EvmBinding):
        from host.commands.evm import bind_evm

        definition = bind_evm(ctx, definition)  # created or found on chain only once all else holds
    elif isinstance(chain, ChiaBinding):
        from host.commands.chain import bind

        definition = bind(ctx, definition)  # minted or found on chain only once all else holds
    ctx.registry.add_vault(definition, ctx.clock())
    ctx.data(vault_json(VaultRow(definition, ctx.clock(), None)))
    ctx.say(f"vault {a.vault_id} created: {a.threshold} of {len(keys)}, digest {definition.digest().hex()}")
    if definition.chain is not None:
        for label, value in chain_lines(definition):
            ctx.say(f"  {label:<12} {value}")
    ctx.say(
        f"next: host vault export-policy {a.vault_id} --out-dir DIR, and install each file at its station"
    )
    return 0


def _vault(ctx: Context) -> VaultRow:
    row = ctx.registry.vault(ctx.args.vault_id, getattr(ctx.args, "generation", None))
    if row is None:
        raise UsageError(f"no vault {ctx.args.vault_id!r} in the registry")
    return row


def vault_json(row: VaultRow) -> dict[str, Any]:
    d = row.definition
    return {
        "vault_id": d.vault_id,
        "generation": d.generation,
        "digest": d.digest().hex(),
        "created_at": row.created_at,
        "asset": {"code": d.asset.code, "decimals": d.asset.decimals},
        "threshold": d.threshold,
        "keys": [
            {"station": k.station, "algorithm": k.algorithm.value, "key_id": k.key_id.hex()} for k in d.keys
        ],
        "chain": chain_json(d),
        "rules": {
            **d.rules.to_map(),
            "max_per_spend": str(d.rules.max_per_spend),  # base units; may exceed JSON's safe integers
            "window_max": str(d.rules.window_max),
        },
    }


def cmd_vault_show(ctx: Context) -> int:
    row = _vault(ctx)
    d, r = row.definition, row.definition.rules
    ctx.data(vault_json(row))
    ctx.say(f"vault {d.vault_id}, generation {d.generation} (created {when(row.created_at)})")
    ctx.say(f"  lock level   {d.threshold} of {len(d.keys)}")
    ctx.say(f"  digest       {d.digest().hex()}")
    for label, value in chain_lines(d):
        ctx.say(f"  {label:<12} {value}")
    for k in d.keys:
        ctx.say(f"  key          {k.station:<16} {k.algorithm.value:<9} {grouped(k.key_id)[:35]}")
    for dest in r.destinations:
        ctx.say(f"  destination  {dest}")
    ctx.say(f"  per spend    {d.asset.format(r.min_per_spend)} to {d.asset.format(r.max_per_spend)}")
    ctx.say(
        f"  window       {d.asset.format(r.window_max)} and {r.window_count} withdrawal(s) per "
        f"{format_duration(r.window_seconds)}"
    )
    if not d.quorums_overlap:
        ctx.say(
            f"  shares       {d.threshold} of {len(d.keys)}: two quorums need not share a station, so each "
            f"station signs at most {d.asset.format(d.share(r.window_max))} and {d.share(r.window_count)} "
            "withdrawal(s) per window"
        )
    ctx.say(f"  cooldown     {format_duration(r.cooldown_seconds)}")
    if r.two_phase:
        ctx.say(
            f"  announce     wait {format_duration(r.announce_delay_seconds)}, then executable for "
            f"{format_duration(r.announce_expiry_seconds)}"
        )
    else:
        ctx.say("  announce     none: single-phase withdrawals")
    ctx.say(
        f"  rekey        all {d.threshold} signatures, {format_duration(r.rekey_delay_seconds)} after the "
        "vault's last action"
    )
    ctx.say(f"  requests     live at most {format_duration(r.max_request_lifetime_seconds)}")
    return 0


def cmd_vault_export(ctx: Context) -> int:
    row = _vault(ctx)
    d = row.definition
    if ctx.args.format == "descriptor":
        from host.commands.bitcoin import bitcoin_of, write_descriptor

        bitcoin_of(d)
        text = write_descriptor(d, Path(ctx.args.out))
        ctx.say(f"vault {d.vault_id} generation {d.generation}: descriptor written to {ctx.args.out}")
        ctx.say(f"  {text}")
        ctx.say("  one address, change returns to it: the HSM keys have no BIP32 derivation")
        return 0
    atomic_write(Path(ctx.args.out), d.to_cbor())
    ctx.say(f"vault {d.vault_id} generation {d.generation} written to {ctx.args.out}")
    ctx.say(f"  digest {d.digest().hex()}")
    if ctx.args.opening is not None:
        committed = ctx.registry.commitment(d.vault_id, d.generation)
        if committed is None:
            raise UsageError(
                f"no commitment was made to generation {d.generation}: 'host vault commit' first"
            )
        salt, commitment, at = committed
        opening = {
            "vault_id": d.vault_id,
            "generation": d.generation,
            "vault_digest": d.digest().hex(),
            "commitment": commitment.hex(),
            "salt": salt.hex(),
            "committed_at": at,
        }
        atomic_write(Path(ctx.args.opening), (json.dumps(opening, indent=2) + "\n").encode())
        ctx.say(f"  opening (the salt for commitment {commitment.hex()[:16]}) written to {ctx.args.opening}")
    return 0


def cmd_vault_commit(ctx: Context) -> int:
    """A salted commitment to the vault definition, to publish before anyone relies on it."""
    row = _vault(ctx)
    d = row.definition
    committed = ctx.registry.commitment(d.vault_id, d.generation)
    if committed is None:
        salt = secrets.token_bytes(SALT_LEN)
        commitment = vault_commitment(d.digest(), salt)
        ctx.registry.add_commitment(d.vault_id, d.generation, salt, commitment, ctx.clock())
        made = "made"
    else:
        commitment, made = committed[1], "already made"
    ctx.data({"vault_id": d.vault_id, "generation": d.generation, "commitment": commitment.hex()})
    ctx.say(f"commitment to vault {d.vault_id} generation {d.generation} ({made}):")
    ctx.say(f"  {commitment.hex()}")
    ctx.say(
        "  Publish it now. It reveals nothing about the definition; later, 'host vault export --opening' "
        "gives the salt that lets anyone check the vault file against it (host check-vault, host verify)."
    )
    return 0


def station_policy(ctx: Context, definition: VaultDefinition, station: str) -> StationPolicy:
    key = next((k for k in definition.keys if k.station == station), None)
    if key is None:
        raise UsageError(f"station {station!r} holds no key of vault {definition.vault_id!r}")
    row = ctx.registry.key(key.key_id)
    if row is None or row.record.station != station:
        raise UsageError(f"station {station!r}'s enrolled keys do not include the vault's key for it")
    return StationPolicy(vault=definition, key_label=row.record.label, key_id=key.key_id)


def cmd_vault_export_policy(ctx: Context) -> int:
    row = _vault(ctx)
    d = row.definition
    if (ctx.args.out is None) == (ctx.args.out_dir is None):
        raise UsageError("give --station S --out FILE for one station, or --out-dir DIR for all")
    if ctx.args.out is not None:
        if ctx.args.station is None:
            raise UsageError("--out needs --station")
        targets = [(ctx.args.station, Path(ctx.args.out))]
    else:
        names = [ctx.args.station] if ctx.args.station else [k.station for k in d.keys]
        targets = [(n, Path(ctx.args.out_dir) / f"{d.vault_id}-{n}.toml") for n in names]
    for station, path in targets:
        policy = station_policy(ctx, d, station)
        comment = (
            f"Vault {d.vault_id}, generation {d.generation}: {d.threshold} of {len(d.keys)}, "
            f"as installed at {station}.\nWritten by 'host vault export-policy'. Review every line before "
            "'appliance policy install' seals it.\nVault digest (requests name it): "
            f"{d.digest().hex()}\n"
        )
        text = render_policy(policy, comment)
        atomic_write(path, text.encode())
        ctx.say(f"{station}: {path}  (station policy digest {policy.digest().hex()[:16]})")
    if row.authorized_by is not None:
        ctx.say(
            "this generation was made by a signed bundle: install it with "
            f"--authorization <the bundle of request {row.authorized_by.hex()[:8]}>"
        )
    return 0
