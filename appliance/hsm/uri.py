"""PKCS#11 URIs (RFC 7512): which module, which token, which object.

``pkcs11:token=station-a;object=vault-1?module-path=/usr/lib/softhsm/libsofthsm2.so``

Path attributes select the token and object; query attributes say how to
reach them. ``pin-value`` is refused: a PIN never travels in a URI here (it
comes from custodian cards), and ``pin-source`` is refused for the same
reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from appliance.errors import UsageError

_PATH_ATTRS = frozenset(
    {
        "token",
        "manufacturer",
        "serial",
        "model",
        "library-manufacturer",
        "library-description",
        "library-version",
        "object",
        "type",
        "id",
        "slot-description",
        "slot-manufacturer",
        "slot-id",
    }
)
_QUERY_ATTRS = frozenset({"module-path", "module-name"})
_REFUSED = frozenset({"pin-value", "pin-source"})
_TYPES = frozenset({"public", "private", "cert", "secret-key", "data"})


@dataclass(frozen=True, slots=True)
class Pkcs11Uri:
    module_path: str | None = None
    module_name: str | None = None
    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None
    object: str | None = None
    id: bytes | None = None
    type: str | None = None

    def token_part(self) -> Pkcs11Uri:
        """The same URI without its object selectors: it names only the module and token."""
        return dataclasses.replace(self, object=None, id=None, type=None)

    @property
    def names_key(self) -> bool:
        return self.object is not None or self.id is not None

    def __str__(self) -> str:
        path = []
        for name, value in (
            ("token", self.token),
            ("serial", self.serial),
            ("manufacturer", self.manufacturer),
            ("model", self.model),
            ("object", self.object),
            ("type", self.type),
        ):
            if value is not None:
                path.append(f"{name}={_quote(value.encode())}")
        if self.slot_id is not None:
            path.append(f"slot-id={self.slot_id}")
        if self.id is not None:
            path.append("id=" + "".join(f"%{b:02x}" for b in self.id))
        query = []
        if self.module_path is not None:
            query.append(f"module-path={_quote(self.module_path.encode(), safe='/')}")
        if self.module_name is not None:
            query.append(f"module-name={_quote(self.module_name.encode())}")
        return "pkcs11:" + ";".join(path) + ("?" + "&".join(query) if query else "")


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(raw: bytes, safe: str = "") -> str:
    allowed = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in allowed else f"%{b:02X}" for b in raw)


def _text(name: str, raw: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"PKCS#11 URI: {name} is not UTF-8 after percent-decoding") from None


def parse(text: str) -> Pkcs11Uri:
    """Parse an RFC 7512 URI; unknown attributes, duplicates and PINs are refused."""
    if not text.lower().startswith("pkcs11:"):
        raise UsageError(f"not a PKCS#11 URI (it must start with 'pkcs11:'): {text[:40]!r}")
    body = text[len("pkcs11:") :]
    path, _, query = body.partition("?")
    values: dict[str, str] = {}
    for part, allowed, separator in ((path, _PATH_ATTRS, ";"), (query, _QUERY_ATTRS, "&")):
        if not part:
            continue
        for item in part.split(separator):
            name, eq, value = item.partition("=")
            name = name.lower()
            if name in _REFUSED:
                raise UsageError(
                    f"PKCS#11 URI: {name} is refused; PINs come from custodian cards, never URIs"
                )
            if not eq or name not in allowed:
                raise UsageError(f"PKCS#11 URI: unknown or malformed attribute {item[:30]!r}")
            if name in values:
                raise UsageError(f"PKCS#11 URI: attribute {name} given twice")
            values[name] = value
    slot_id = None
    if "slot-id" in values:
        # ASCII only: str.isdigit() also holds for "²", which int() refuses; 20 digits hold any CK_SLOT_ID.
        if not (values["slot-id"].isascii() and values["slot-id"].isdigit()) or len(values["slot-id"]) > 20:
            raise UsageError("PKCS#11 URI: slot-id must be a decimal number of at most 20 digits")
        slot_id = int(values["slot-id"])
    object_type = _text("type", values["type"]) if "type" in values else None
    if object_type is not None and object_type not in _TYPES:
        raise UsageError(f"PKCS#11 URI: type must be one of {', '.join(sorted(_TYPES))}")
    return Pkcs11Uri(
        module_path=_text("module-path", values["module-path"]) if "module-path" in values else None,
        module_name=_text("module-name", values["module-name"]) if "module-name" in values else None,
        token=_text("token", values["token"]) if "token" in values else None,
        serial=_text("serial", values["serial"]) if "serial" in values else None,
        manufacturer=_text("manufacturer", values["manufacturer"]) if "manufacturer" in values else None,
        model=_text("model", values["model"]) if "model" in values else None,
        slot_id=slot_id,
        object=_text("object", values["object"]) if "object" in values else None,
        id=unquote_to_bytes(values["id"]) if "id" in values else None,
        type=object_type,
    )
