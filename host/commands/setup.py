"""``host enrol`` and ``host vault create | show | export | export-policy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airgap.errors import AirgapError, IncompleteError
from airgap.files import atomic_write
from airgap.ur.ur import DecodeLimits
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
        if isinstance(item, AirgapError):
            raise item
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


def _template(ctx: Context) -> tuple[Asset | None, dict[str, Any]]:
    if ctx.args.template is None:
        return None, {}
    policy = load_policy_file(Path(ctx.args.template))
    rules = policy.vault.rules
    return policy.vault.asset, {name: getattr(rules, name) for name in rules.__slots__}


def _asset(text: str) -> Asset:
    code, _, decimals = text.partition(":")
    if not code or not decimals.isdigit():
        raise UsageError(f"--asset {text!r}: write CODE:DECIMALS, e.g. XCH:12")
    return Asset(code=code, decimals=int(decimals))


def vault_keys(ctx: Context, names: list[str]) -> tuple[VaultKey, ...]:
    keys = []
    for name in names:
        row = ctx.registry.station(name)
        if row is None:
            raise UsageError(f"station {name!r} is not enrolled; run 'host enrol' for it first")
        keys.append(VaultKey(station=name, algorithm=row.record.algorithm, public_key=row.record.public_key))
    if len(set(names)) != len(names):
        raise UsageError("a station is named twice")
    return tuple(keys)


def cmd_vault_create(ctx: Context) -> int:
    a = ctx.args
    asset, rules = _template(ctx)
    if a.asset is not None:
        asset = _asset(a.asset)
    if asset is None:
        raise UsageError("say which asset the vault holds: --asset CODE:DECIMALS, or --template FILE")
    if a.destination:
        rules["destinations"] = tuple(sorted(set(a.destination)))
    for flag in ("max_per_spend", "window_max"):
        if getattr(a, flag) is not None:
            rules[flag] = parse_amount(getattr(a, flag), asset)
    for flag, name in DURATIONS.items():
        if getattr(a, flag) is not None:
            try:
                rules[name] = parse_duration(getattr(a, flag))
            except ValueError as exc:
                raise UsageError(f"--{flag.replace('_', '-')}: {exc}") from None
    if a.rekey_penalty is not None:
        rules["rekey_penalty"] = a.rekey_penalty
    missing = [f for f in Rules.__slots__ if f not in rules]
    if missing:
        flags = ", ".join("--" + f.replace("_seconds", "").replace("_", "-") for f in missing)
        raise UsageError(f"these rules are not set: {flags} (or start from --template FILE)")
    keys = vault_keys(ctx, a.station)
    definition = VaultDefinition(
        vault_id=a.vault_id, generation=1, asset=asset, threshold=a.threshold, keys=keys, rules=Rules(**rules)
    )
    VaultDefinition.from_cbor(definition.to_cbor())  # the station's own checks, rule ranges included
    ctx.registry.add_vault(definition, ctx.clock())
    ctx.data(vault_json(VaultRow(definition, ctx.clock(), None)))
    ctx.say(f"vault {a.vault_id} created: {a.threshold} of {len(keys)}, digest {definition.digest().hex()}")
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
    for k in d.keys:
        ctx.say(f"  key          {k.station:<16} {k.algorithm.value:<9} {grouped(k.key_id)[:35]}")
    for dest in r.destinations:
        ctx.say(f"  destination  {dest}")
    ctx.say(f"  per spend    {d.asset.format(r.max_per_spend)}")
    ctx.say(f"  window       {d.asset.format(r.window_max)} per {format_duration(r.window_seconds)}")
    ctx.say(f"  cooldown     {format_duration(r.cooldown_seconds)}")
    if r.two_phase:
        ctx.say(
            f"  announce     wait {format_duration(r.announce_delay_seconds)}, then executable for "
            f"{format_duration(r.announce_expiry_seconds)}"
        )
    else:
        ctx.say("  announce     none: single-phase withdrawals")
    ctx.say(
        f"  rekey        wait {format_duration(r.rekey_delay_seconds)}, x{r.rekey_penalty} per missing signer"
    )
    ctx.say(f"  requests     live at most {format_duration(r.max_request_lifetime_seconds)}")
    return 0


def cmd_vault_export(ctx: Context) -> int:
    row = _vault(ctx)
    atomic_write(Path(ctx.args.out), row.definition.to_cbor())
    ctx.say(
        f"vault {row.definition.vault_id} generation {row.definition.generation} written to {ctx.args.out}"
    )
    ctx.say(f"  digest {row.definition.digest().hex()}")
    return 0


def station_policy(ctx: Context, definition: VaultDefinition, station: str) -> StationPolicy:
    key = next((k for k in definition.keys if k.station == station), None)
    if key is None:
        raise UsageError(f"station {station!r} holds no key of vault {definition.vault_id!r}")
    row = ctx.registry.station(station)
    if row is None or row.record.key_id != key.key_id:
        raise UsageError(f"station {station!r}'s enrolled key is not the vault's key for it")
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
