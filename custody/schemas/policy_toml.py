"""Station policies as people write them (TOML in firmware-config/), compiled to canonical CBOR.

Shared: the host writes these files (``host vault export-policy``), the
station compiles and seals them.

Errors name the file and line, because the person fixing them is reading the
TOML, not the CBOR. Amounts are integers in base units; durations are
seconds or text like ``"90d"``, ``"1h30m"``. The schema is in
firmware-config/README.md.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from custody.errors import CustodyError, SchemaError
from custody.schemas.policy_toml_chain import compile_chain, render_chain
from custody.schemas.vault import VERSION as VAULT_VERSION
from custody.schemas.vault import StationPolicy, VaultDefinition

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(\d+)([wdhms])")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

#: Duration settings as people write them (``cooldown = "30d"``) -> the rule fields, in seconds.
DURATIONS = {
    "window": "window_seconds",
    "cooldown": "cooldown_seconds",
    "announce_delay": "announce_delay_seconds",
    "announce_expiry": "announce_expiry_seconds",
    "rekey_delay": "rekey_delay_seconds",
    "max_request_lifetime": "max_request_lifetime_seconds",
}
_SCHEMA: dict[str, dict[str, Any]] = {
    "vault": {"id": str, "generation": int, "threshold": int, "asset": dict, "keys": list},
    "vault.asset": {"code": str, "decimals": int},
    "vault.keys": {"station": str, "algorithm": str, "public_key": str},
    "rules": {
        "destinations": list,
        "min_per_spend": int,
        "max_per_spend": int,
        "window_max": int,
        "window_count": int,
        "max_fee": int,
        **dict.fromkeys(DURATIONS, (int, str)),
    },
    "station": {"key_label": str, "key_id": str},
}


class PolicyFileError(SchemaError):
    """A policy file that does not compile; the message names the line."""


def line_index(text: str) -> dict[str, int]:
    """Dotted path (``vault.keys[1].public_key``) → line number, for the error messages."""
    lines: dict[str, int] = {}
    table, counts = "", dict[str, int]()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        header = _HEADER.match(line)
        if header:
            name = header.group(2)
            if header.group(1) == "[[":
                counts[name] = counts.get(name, -1) + 1
                name = f"{name}[{counts[name]}]"
            table = name
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(f"{table}.{key.group(1)}" if table else key.group(1), number)
    return lines


def parse_duration(value: int | str) -> int:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    text = value.replace(" ", "")
    if text.isdigit():  # plain seconds, as typed on a command line
        return int(text)
    if not text or _DURATION.sub("", text):
        raise ValueError(f"{value!r} is not a duration like '90d', '1h30m' or a number of seconds")
    return sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(text))


def format_duration(seconds: int) -> str:
    if seconds == 0:
        return "0s"
    parts = []
    for unit in "dhms":
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


def compile_policy(text: str, source: str = "policy") -> StationPolicy:
    lines = line_index(text)

    def fail(path: str, message: str) -> PolicyFileError:
        probe = path
        while probe and probe not in lines:
            probe = probe.rpartition(".")[0]
        where = f"{source}:{lines[probe]}" if probe else source
        return PolicyFileError(f"{where}: {path}: {message}")

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise PolicyFileError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None
    _check_table(doc, "", {k: dict for k in ("vault", "rules", "station")}, fail)
    chain_table = doc["vault"].pop("chain", None) if isinstance(doc.get("vault"), dict) else None
    vault = _check_table(doc["vault"], "vault", _SCHEMA["vault"], fail)
    asset = _check_table(vault["asset"], "vault.asset", _SCHEMA["vault.asset"], fail)
    chain = None
    if chain_table is not None:
        if not isinstance(chain_table, dict):
            raise fail("vault.chain", "is a [vault.chain] table")

        def duration(value: int | str, path: str) -> int:
            try:
                return parse_duration(value)
            except ValueError as exc:
                raise fail(path, str(exc)) from None

        def check(value: dict[str, Any], path: str, spec: dict[str, Any]) -> dict[str, Any]:
            return _check_table(value, path, spec, fail)

        chain = compile_chain(chain_table, check, fail, duration)
    keys = []
    for i, entry in enumerate(vault["keys"]):
        path = f"vault.keys[{i}]"
        if not isinstance(entry, dict):
            raise fail(path, "each key is a [[vault.keys]] table")
        k = _check_table(entry, path, _SCHEMA["vault.keys"], fail)
        keys.append({**k, "public_key": _hex(k["public_key"], f"{path}.public_key", fail)})
    rules = _check_table(doc["rules"], "rules", _SCHEMA["rules"], fail)
    station = _check_table(doc["station"], "station", _SCHEMA["station"], fail)

    dests = rules["destinations"]
    if not all(isinstance(d, str) for d in dests):
        raise fail("rules.destinations", "every destination is a string")
    if len(set(dests)) != len(dests):
        raise fail("rules.destinations", "a destination is listed twice")
    rule_map: dict[str, Any] = {
        "destinations": sorted(dests),
        **{
            name: rules[name]
            for name in ("min_per_spend", "max_per_spend", "window_max", "window_count", "max_fee")
        },
    }
    for name, field in DURATIONS.items():
        try:
            rule_map[field] = parse_duration(rules[name])
        except ValueError as exc:
            raise fail(f"rules.{name}", str(exc)) from None
    vault_map = {
        "version": VAULT_VERSION,
        "vault_id": vault["id"],
        "generation": vault["generation"],
        "asset": asset,
        "threshold": vault["threshold"],
        "keys": keys,
        "rules": rule_map,
        "chain": chain,
    }
    try:
        definition = VaultDefinition.from_map(vault_map)
        return StationPolicy(
            vault=definition,
            key_label=station["key_label"],
            key_id=_hex(station["key_id"], "station.key_id", fail),
        )
    except CustodyError as exc:
        raise fail(_blame(str(exc)), str(exc).split(": ", 1)[-1]) from None


_BLAME = (  # most specific first: the first word found in a schema message picks the line
    ("min_per_spend", "rules.min_per_spend"),
    ("max_per_spend", "rules.max_per_spend"),
    ("window_count", "rules.window_count"),
    ("max_fee", "rules.max_fee"),
    ("quorums need not share", "vault.threshold"),
    ("window_max", "rules.window_max"),
    ("decimals", "vault.asset.decimals"),
    ("asset code", "vault.asset.code"),
    ("station's key", "station.key_id"),
    ("key label", "station.key_label"),
    ("threshold", "vault.threshold"),
    ("vault id", "vault.id"),
    ("recovery_signers", "vault.chain.recovery_signers"),
    ("recovery_penalty", "vault.chain.recovery_penalty"),
    ("chain", "vault.chain"),
    ("network", "vault.chain.network"),
    ("launcher", "vault.chain.launcher_id"),
    ("Safe version", "vault.chain.version"),
    ("chain_id", "vault.chain.chain_id"),
    ("evm token", "vault.chain.tokens"),
    ("generation", "vault.generation"),
    ("destination", "rules.destinations"),
    ("announce", "rules.announce_delay"),
    ("window_seconds", "rules.window"),
    ("max_request_lifetime", "rules.max_request_lifetime"),
    ("key", "vault.keys"),
    ("seconds", "rules"),
)


def _blame(message: str) -> str:
    """The TOML path a schema message is about, for its line number."""
    return next((path for word, path in _BLAME if word in message), "vault")


def _check_table(
    value: dict[str, Any], path: str, spec: dict[str, Any], fail: Callable[[str, str], PolicyFileError]
) -> dict[str, Any]:
    for name in value:
        if name not in spec:
            raise fail(f"{path}.{name}".lstrip("."), "unknown setting (a typo?)")
    for name, kind in spec.items():
        where = f"{path}.{name}".lstrip(".")
        if name not in value:
            raise fail(where, "missing")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if type(value[name]) not in kinds:
            names = " or ".join("table" if k is dict else k.__name__ for k in kinds)
            raise fail(where, f"must be {names}")
    return value


def _hex(text: str, path: str, fail: Callable[[str, str], PolicyFileError]) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise fail(path, "must be hexadecimal") from None


def load_policy_file(path: Path) -> StationPolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"{path}: cannot read: {exc}") from None
    return compile_policy(text, str(path))


def render_policy(policy: StationPolicy, comment: str = "") -> str:
    """The TOML for ``policy``; ``compile_policy(render_policy(p)) == p``. The host's export-policy."""
    v, r = policy.vault, policy.vault.rules
    out = [f"# {line}" for line in comment.splitlines()]
    out += [
        "[vault]",
        f'id = "{v.vault_id}"',
        f"generation = {v.generation}",
        f"threshold = {v.threshold}  # the lock level M: signatures needed out of {len(v.keys)}",
        "",
        "[vault.asset]",
        f'code = "{v.asset.code}"',
        f"decimals = {v.asset.decimals}",
    ]
    if v.chain is not None:
        out += render_chain(v.chain, format_duration)
    for k in v.keys:
        out += ["", "[[vault.keys]]", f'station = "{k.station}"', f'algorithm = "{k.algorithm.value}"']
        out += [f'public_key = "{k.public_key.hex()}"  # key id {k.key_id.hex()[:16]}']
    out += ["", "[rules]", "destinations = ["]
    out += [f'  "{d}",' for d in r.destinations]
    out += [
        "]",
        f"min_per_spend = {r.min_per_spend}  # {v.asset.format(r.min_per_spend)}",
        f"max_per_spend = {r.max_per_spend}  # {v.asset.format(r.max_per_spend)}",
        f"window_max = {r.window_max}  # {v.asset.format(r.window_max)}",
        f"window_count = {r.window_count}  # withdrawals or announcements per window",
        f"max_fee = {r.max_fee}  # {v.asset.format(r.max_fee)} per request, at most",
    ]
    for name, field in DURATIONS.items():
        out.append(f'{name} = "{format_duration(getattr(r, field))}"')
    out += [
        "",
        "[station]",
        f'key_label = "{policy.key_label}"',
        f'key_id = "{policy.key_id.hex()}"',
        "",
    ]
    return "\n".join(out)
