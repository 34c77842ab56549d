"""A PSBT (BIP-174, version 0) read strictly: our own pass over its maps, then embit's parser.

embit is lenient (CHAINS.md): it keeps unknown fields and accepts what a
vault never carries. So before it runs, this module walks every key-value
pair itself, caps the sizes, and refuses a duplicate key, a field outside
the few a P2WSH vault spend needs, and a PSBT that is not version 0. What
embit then parses is checked against that walk (one map per input and output).
"""

from __future__ import annotations

from dataclasses import dataclass

from embit import compact
from embit.psbt import PSBT
from embit.transaction import Transaction, TransactionOutput

from custody.chains.base import ChainError

MAGIC = b"psbt\xff"
#: The largest PSBT a station reads: what a request's payload may carry (custody.schemas.history).
MAX_PSBT_BYTES = 48 * 1024
#: The most inputs one spend may have: a response carries one 64-byte signature per input.
MAX_INPUTS = 100
MAX_OUTPUTS = 16
MAX_VALUE = 21_000_000 * 100_000_000
#: Locktimes from here on are Unix times, not heights: refused (they can hold a spend for years).
LOCKTIME_THRESHOLD = 500_000_000

GLOBAL_FIELDS = {0x00: "unsigned transaction", 0xFB: "version"}
INPUT_FIELDS = {
    0x00: "non_witness_utxo",
    0x01: "witness_utxo",
    0x02: "partial_sig",
    0x03: "sighash_type",
    0x05: "witness_script",
}
OUTPUT_FIELDS = {0x01: "witness_script"}
FINAL_INPUT_FIELDS = {**INPUT_FIELDS, 0x08: "final script witness"}
#: Fields a PSBT may know that a vault spend never has, named in the refusal.
NAMED = {
    ("global", 0x01): "an xpub (this vault's HSM keys have no BIP32 derivation)",
    ("global", 0xFC): "a proprietary field",
    ("input", 0x04): "a redeem script (the vault is native P2WSH)",
    ("input", 0x06): "a BIP32 derivation (this vault's HSM keys have none)",
    ("input", 0x07): "a final scriptSig (the input is already finalized)",
    ("input", 0x08): "a final script witness (the input is already finalized)",
    ("input", 0xFC): "a proprietary field",
    ("output", 0x00): "a redeem script",
    ("output", 0x02): "a BIP32 derivation (this vault's HSM keys have none)",
    ("output", 0xFC): "a proprietary field",
}


@dataclass(frozen=True, slots=True)
class Psbt:
    """The PSBT's own unsigned transaction, embit's parse of its maps, and each map's raw keys.

    ``tx`` is parsed from the PSBT's global field itself: embit's ``PSBT.tx``
    is rebuilt from its scopes (a sequence of 0 becomes 0xFFFFFFFF, a version
    of 0 becomes 2), which is not the transaction the signatures must cover.
    """

    tx: Transaction
    parsed: PSBT
    global_map: dict[bytes, bytes]
    input_maps: tuple[dict[bytes, bytes], ...]
    output_maps: tuple[dict[bytes, bytes], ...]

    def encode(self, input_maps: list[dict[bytes, bytes]] | None = None) -> bytes:
        """This PSBT again, byte for byte, or with ``input_maps`` in place of its own: embit's
        serializer writes its rebuilt transaction, so the PSBT is written here from its maps."""
        maps = [self.global_map, *(input_maps or self.input_maps), *self.output_maps]
        return MAGIC + b"".join(_encode_map(m) for m in maps)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise ChainError("the PSBT ends early")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def compact(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = int.from_bytes(self.take(size), "little")
        if value < (0xFD if size == 2 else 1 << (8 * size // 2)):
            raise ChainError("the PSBT has a non-minimal length")
        return value

    def string(self) -> bytes:
        return self.take(self.compact())


def _encode_map(fields: dict[bytes, bytes]) -> bytes:
    size = compact.to_bytes
    return b"".join(size(len(k)) + k + size(len(v)) + v for k, v in fields.items()) + b"\x00"


def _map(reader: _Reader, scope: str, allowed: dict[int, str]) -> dict[bytes, bytes]:
    """One key-value map up to its separator; every key allowed and seen once."""
    fields: dict[bytes, bytes] = {}
    while True:
        key = reader.string()
        if not key:
            return fields
        value = reader.string()
        kind = key[0]
        if kind not in allowed:
            name = NAMED.get((scope, kind), f"an unknown field of type 0x{kind:02x}")
            raise ChainError(f"the PSBT's {scope} map carries {name}: refused")
        if key in fields:
            raise ChainError(f"the PSBT's {scope} map repeats its {allowed[kind]} field")
        if len(key) != (34 if kind == 0x02 else 1):
            raise ChainError(f"the PSBT's {scope} {allowed[kind]} key is {len(key)} bytes")
        fields[key] = value


def _transaction(data: bytes, what: str) -> Transaction:
    """A whole transaction in exactly these bytes."""
    try:
        tx = Transaction.parse(data)
        exact = tx.serialize() == data
    except Exception:  # embit raises several types on malformed bytes; each means "not a transaction"
        raise ChainError(f"the {what} does not parse") from None
    if not exact:
        raise ChainError(f"the {what} is not in canonical form")
    return tx


def read(data: bytes, *, final: bool = False) -> Psbt:
    """The PSBT in ``data``; ChainError with the reason for anything a vault spend never carries.

    ``final``: a finalized PSBT (the host's, after combining), whose inputs
    carry their final script witness in place of partial signatures.
    """
    if len(data) > (2 if final else 1) * MAX_PSBT_BYTES:
        raise ChainError(f"the PSBT is {len(data)} bytes; at most {MAX_PSBT_BYTES} are read")
    if not data.startswith(MAGIC):
        raise ChainError("not a PSBT (no psbt magic)")
    reader = _Reader(data)
    reader.take(len(MAGIC))
    top = _map(reader, "global", GLOBAL_FIELDS)
    if b"\xfb" in top and top[b"\xfb"] != bytes(4):
        raise ChainError("only PSBT version 0 is read")
    if b"\x00" not in top:
        raise ChainError("the PSBT has no unsigned transaction")
    tx = _transaction(top[b"\x00"], "PSBT's unsigned transaction")
    if not 1 <= len(tx.vin) <= MAX_INPUTS or not 1 <= len(tx.vout) <= MAX_OUTPUTS:
        raise ChainError(
            f"the transaction has {len(tx.vin)} inputs and {len(tx.vout)} outputs; "
            f"1 to {MAX_INPUTS} and 1 to {MAX_OUTPUTS} are signed"
        )
    if any(len(i.script_sig.data) or i.witness.items for i in tx.vin):
        raise ChainError("the PSBT's unsigned transaction carries a scriptSig or witness")
    spent = [(i.txid, i.vout) for i in tx.vin]
    if len(set(spent)) != len(spent):
        raise ChainError("the transaction spends the same coin twice")
    inputs = tuple(_map(reader, "input", FINAL_INPUT_FIELDS if final else INPUT_FIELDS) for _ in tx.vin)
    outputs = tuple(_map(reader, "output", OUTPUT_FIELDS) for _ in tx.vout)
    if reader.at != len(data):
        raise ChainError(f"{len(data) - reader.at} bytes follow the PSBT")
    for fields in inputs:
        if b"\x00" in fields:
            _transaction(fields[b"\x00"], "previous transaction (non_witness_utxo)")
        if b"\x01" in fields:
            _output(fields[b"\x01"])
    try:
        parsed = PSBT.parse(data)
    except Exception:  # the walk above accepted it; a refusal here is embit's, named as such
        raise ChainError("the PSBT does not parse") from None
    return Psbt(tx, parsed, top, inputs, outputs)


def _output(data: bytes) -> TransactionOutput:
    try:
        out = TransactionOutput.parse(data)
        exact = out.serialize() == data
    except Exception:  # as for a transaction
        raise ChainError("an input's witness_utxo does not parse") from None
    if not exact:
        raise ChainError("an input's witness_utxo has bytes after it")
    return out


def read_final(data: bytes) -> Psbt:
    """A finalized PSBT, as the host holds it after combining: read as strictly, final witnesses allowed.

    Only the host reads these, to extract the transaction the judge then
    checks input by input; the station never signs from one.
    """
    return read(data, final=True)
