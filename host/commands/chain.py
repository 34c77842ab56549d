"""The host's chain commands: bind a vault to its chain at creation, read its funds, fund it, and
push what the chain accepts (``host submit``, ``host release``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from chia_wallet_sdk import SpendBundle

from airgap.files import atomic_write
from custody.chains.chia.assemble import push_tx_json, push_tx_text
from custody.chains.chia.custody import address, decode_address, p2_puzzle_hash
from custody.chains.chia.recovery import vault_custody
from custody.errors import SchemaError
from custody.schemas.bundle import SignedBundle
from custody.schemas.chain import CHIA_NETWORKS, ChiaBinding
from custody.schemas.chain_bitcoin import BitcoinBinding
from custody.schemas.chain_evm import EvmBinding
from custody.schemas.policy_toml import parse_duration
from custody.schemas.request import Announce, SlowRekey
from custody.schemas.vault import Asset, VaultDefinition
from host.amounts import parse_amount
from host.chain import open_backend
from host.chain.backend import ChiaBackend, current_vault
from host.chain.judging import chain_findings, spend_bundle
from host.chain.simulator import SimulatorBackend
from host.chain.spends import announced, binding, funds, locate, push_through, rekey_release
from host.context import Context
from host.errors import ChainRejected, UsageError
from host.registry import RequestRow
from host.text import when

#: A placeholder launcher id: the definition is checked whole before anything is minted.
UNMINTED = bytes(32)


def chain_asset(
    ctx: Context, asset: Asset | None, template: ChiaBinding | None = None
) -> tuple[Asset | None, ChiaBinding | None]:
    """The asset a chain vault must hold (the network's own), and a binding to be minted or read; the
    slow-rekey settings from the flags, else from the template."""
    network = ctx.args.chain
    if network is None:
        return asset, None
    net = CHIA_NETWORKS[network]
    if (
        ctx.args.asset is not None
        and asset is not None
        and (asset.code, asset.decimals) != (net.asset_code, 12)
    ):
        raise UsageError(f"a Chia {network} vault holds {net.asset_code}:12, not {ctx.args.asset}")
    try:
        launcher = bytes.fromhex(ctx.args.launcher_id) if ctx.args.launcher_id else UNMINTED
        penalty = (
            parse_duration(ctx.args.recovery_penalty)
            if ctx.args.recovery_penalty is not None
            else template.recovery_penalty_seconds
            if template is not None
            else 0
        )
    except ValueError as exc:
        raise UsageError(f"--launcher-id or --recovery-penalty: {exc}") from None
    if len(launcher) != 32:
        raise UsageError("--launcher-id takes 32 bytes as 64 hex digits")
    binding = ChiaBinding(
        network=network,
        launcher_id=launcher,
        recovery_signers=(
            ctx.args.recovery_signers
            if ctx.args.recovery_signers is not None
            else template.recovery_signers
            if template is not None
            else 0
        ),
        recovery_penalty_seconds=penalty,
    )
    return Asset(code=net.asset_code, decimals=12), binding


def backend_for(ctx: Context, vault: VaultDefinition) -> ChiaBackend:
    return open_backend(binding(vault), ctx.args.registry, ctx.clock)


def bind(ctx: Context, definition: VaultDefinition) -> VaultDefinition:
    """Mint the vault (Simulator) or find it on chain (--launcher-id); its definition with the launcher."""
    chia = binding(definition)
    custody = vault_custody(definition).hash
    if chia.launcher_id == UNMINTED:
        if chia.network != "simulator":
            raise UsageError(
                f"mint the vault on {chia.network} from your wallet with custody hash {custody.hex()} "
                "(the SDK's mint_vault), then give its launcher id with --launcher-id"
            )
        backend = SimulatorBackend.open(ctx.args.registry, ctx.clock())
        amounts = [parse_amount(a, definition.asset) for a in ctx.args.fund or ()]
        launcher = backend.mint(custody, amounts)
        return replace(definition, chain=replace(chia, launcher_id=launcher))
    if ctx.args.fund:
        raise UsageError("--fund mints on the Simulator; fund a vault on a real network from your wallet")
    current_vault(backend_for(ctx, definition), chia.launcher_id, [custody])  # the chain agrees
    return definition


def _request_row(ctx: Context, text: str) -> tuple[RequestRow, VaultDefinition]:
    row = ctx.registry.find_request(text)
    vault_row = ctx.registry.vault(row.request.vault_id, row.generation)
    assert vault_row is not None
    if vault_row.definition.chain is None:
        raise UsageError(f"vault {row.request.vault_id!r} is not on a chain: nothing to submit")
    return row, vault_row.definition


def _write_json(path: Path, bundle: SpendBundle) -> None:
    atomic_write(path, push_tx_text(bundle).encode())


def cmd_submit(ctx: Context) -> int:
    """Push a finalized request's spend to the chain, after judging it offline at this host's time."""
    row, vault = _request_row(ctx, ctx.args.request)
    if row.bundle is None:
        raise UsageError(f"request {ctx.args.request} is not finalized: host finalize it first")
    signed = SignedBundle.from_cbor(row.bundle)
    now = ctx.clock()
    findings = chain_findings(vault, signed, now)
    if findings:
        raise ChainRejected("not submitted: " + "; ".join(f"{f.problem.value}: {f.text}" for f in findings))
    if isinstance(vault.chain, BitcoinBinding):
        from host.commands.bitcoin import cmd_submit_bitcoin

        return cmd_submit_bitcoin(ctx, vault, signed)
    if isinstance(vault.chain, EvmBinding):
        from host.commands.evm import cmd_submit_safe

        return cmd_submit_safe(ctx, vault, signed)
    final = spend_bundle(vault, signed)
    if ctx.args.out is not None:
        _write_json(Path(ctx.args.out), final)
    backend = backend_for(ctx, vault)
    backend.push(final)
    ctx.data(
        {"request_id": row.request.request_id.hex(), "submitted": True, "spend_bundle": push_tx_json(final)}
    )
    ctx.say(f"request {row.request.request_id.hex()[:8]} submitted to Chia {binding(vault).network}")
    ctx.say(f"  {len(final.coin_spends)} coin spend(s); the chain accepted them")
    return 0


def cmd_release(ctx: Context) -> int:
    """Pay an announcement out once its clawback has expired, or push a slow rekey through once its
    delay has passed: no signature, the chain kept the wait."""
    row, vault = _request_row(ctx, ctx.args.announcement)
    action = row.request.action
    backend = backend_for(ctx, vault)
    if isinstance(action, SlowRekey):
        return _release_rekey(ctx, row, backend)
    if not isinstance(action, Announce):
        raise UsageError(f"request {ctx.args.announcement} is not an announcement or a slow rekey")
    final = push_through(backend, vault, row.request, backend.now())
    if ctx.args.out is not None:
        _write_json(Path(ctx.args.out), final)
    backend.push(final)
    ctx.data({"request_id": row.request.request_id.hex(), "released": True, "amount": str(action.amount)})
    ctx.say(
        f"announcement {row.request.request_id.hex()[:8]} released: {vault.asset.format(action.amount)} "
        f"paid to {action.destination}"
    )
    return 0


def _release_rekey(ctx: Context, row: RequestRow, backend: ChiaBackend) -> int:
    from host.commands.requests import slow_rekeys

    if row.finalized_at is None:
        raise UsageError("the slow rekey was never finalized: nothing was scheduled")
    vault_id = row.request.vault_id
    generations = [g.definition for g in ctx.registry.vault_generations(vault_id)]
    final = rekey_release(backend, generations, row.request, slow_rekeys(ctx, vault_id))
    if ctx.args.out is not None:
        _write_json(Path(ctx.args.out), final)
    backend.push(final)
    action = row.request.action
    assert isinstance(action, SlowRekey)
    current = generations[-1]
    successor = replace(
        current, generation=current.generation + 1, keys=action.keys, threshold=action.threshold
    )
    ctx.registry.add_vault(successor, ctx.clock(), authorized_by=row.request.request_id)
    ctx.data(
        {"request_id": row.request.request_id.hex(), "released": True, "generation": successor.generation}
    )
    ctx.say(
        f"slow rekey {row.request.request_id.hex()[:8]} pushed through: vault {vault_id} is now generation "
        f"{successor.generation} ({successor.threshold} of {len(successor.keys)})"
    )
    ctx.say("  export its policies and install them at each station with --authorization <its bundle>")
    return 0


def _announcements(ctx: Context, backend: ChiaBackend, vault: VaultDefinition) -> list[dict[str, Any]]:
    out = []
    now = backend.now()
    for row in ctx.registry.requests(vault.vault_id):
        if not isinstance(row.request.action, Announce) or row.finalized_at is None:
            continue
        generation = ctx.registry.vault(vault.vault_id, row.generation)
        assert generation is not None
        found = announced(backend, generation.definition, row.request)
        if not found.exists:
            state = "not submitted"
        elif found.paid_to == found.clawback.sender:
            state = "cancelled: clawed back to the vault"
        elif found.paid_to == found.clawback.receiver:
            state = "paid out"
        elif found.spent:
            state = "spent"
        elif now <= found.clawback.seconds:
            state = f"in its clawback until {when(found.clawback.seconds)}: the vault can cancel it"
        else:
            state = "clawback expired: host release pays it out"
        out.append(
            {
                "request_id": row.request.request_id.hex(),
                "amount": str(found.clawback.amount),
                "destination": row.request.action.destination,
                "until": found.clawback.seconds,
                "state": state,
            }
        )
    return out


def cmd_vault_balance(ctx: Context) -> int:
    row = ctx.registry.vault(ctx.args.vault_id)
    if row is None:
        raise UsageError(f"no vault {ctx.args.vault_id!r} in the registry")
    vault = row.definition
    if isinstance(vault.chain, BitcoinBinding):
        from host.commands.bitcoin import cmd_balance_bitcoin

        return cmd_balance_bitcoin(ctx, vault)
    if isinstance(vault.chain, EvmBinding):
        from host.commands.evm import cmd_balance_safe

        return cmd_balance_safe(ctx, vault)
    chia = binding(vault)
    backend = backend_for(ctx, vault)
    from host.commands.requests import slow_rekeys

    generations = [g.definition for g in ctx.registry.vault_generations(vault.vault_id)]
    located = locate(backend, generations, slow_rekeys(ctx, vault.vault_id))
    coin = located.coin
    coins = funds(backend, vault)
    total = sum(c.amount for c in coins)
    receive = address(p2_puzzle_hash(chia.launcher_id), chia.net)
    pending = _announcements(ctx, backend, vault)
    others = {}
    for text in ctx.args.address or ():
        try:
            puzzle_hash = decode_address(text, chia.net)
        except SchemaError as exc:
            raise UsageError(f"--address: {exc}") from None
        others[text] = sum(c.amount for c in backend.coins(puzzle_hash))
    ctx.data(
        {
            "vault_id": vault.vault_id,
            "network": chia.network,
            "address": receive,
            "launcher_id": chia.launcher_id.hex(),
            "vault_coin": coin.coin.coin_id().hex(),
            "holding_rekey": located.rekey.request_id.hex() if located.rekey is not None else None,
            "balance": str(total),
            "coins": [{"coin_id": c.coin_id().hex(), "amount": str(c.amount)} for c in coins],
            "announcements": pending,
            "addresses": {a: str(amount) for a, amount in others.items()},
        }
    )
    ctx.say(f"vault {vault.vault_id} on Chia {chia.network}: {vault.asset.format(total)} ({total} mojos)")
    ctx.say(f"  address      {receive}")
    ctx.say(f"  vault coin   {coin.coin.coin_id().hex()}")
    if located.rekey is not None:
        rid = located.rekey.request_id.hex()[:8]
        ctx.say(f"  custody      HOLDING slow rekey {rid}: host release {rid} once its delay has passed")
    ctx.say(f"  coins        {len(coins)}")
    for c in coins:
        ctx.say(f"    {c.coin_id().hex()[:16]}  {vault.asset.format(c.amount)}")
    for a in pending:
        amount = vault.asset.format(int(a["amount"]))
        ctx.say(f"  announcement {a['request_id'][:8]}: {amount} to {a['destination']}: {a['state']}")
    for text, held in others.items():
        ctx.say(f"  {text}: {vault.asset.format(held)}")
    return 0


def cmd_vault_fund(ctx: Context) -> int:
    row = ctx.registry.vault(ctx.args.vault_id)
    if row is None:
        raise UsageError(f"no vault {ctx.args.vault_id!r} in the registry")
    vault = row.definition
    if isinstance(vault.chain, BitcoinBinding):
        raise UsageError(f"send bitcoin from your wallet to the vault's address, {vault.chain.address}")
    if isinstance(vault.chain, EvmBinding):
        from host.commands.evm import cmd_fund_safe

        return cmd_fund_safe(ctx, vault)
    if ctx.args.token is not None:
        raise UsageError("--token is for Safe vaults")
    chia = binding(vault)
    receive = p2_puzzle_hash(chia.launcher_id)
    if chia.network != "simulator":
        raise UsageError(f"send {vault.asset.code} from your wallet to {address(receive, chia.net)}")
    amount = parse_amount(ctx.args.amount, vault.asset)
    SimulatorBackend.open(ctx.args.registry, ctx.clock()).fund(receive, amount, chia.launcher_id)
    ctx.data({"vault_id": vault.vault_id, "funded": str(amount)})
    ctx.say(f"vault {vault.vault_id} funded with {vault.asset.format(amount)} from the Simulator's faucet")
    return 0
