"""The PKCS#11 adapter: the only module that imports ``pkcs11``.

One logged-in session per ceremony, behind a lock; ``CKR_USER_ALREADY_LOGGED_IN``
counts as success (login state is per token, not per session); logout and
close happen on every exit path. Every ``PKCS11Error`` is translated here,
once, into an ``HsmError`` subclass with its own exit code, keeping the
original as ``__cause__``.

Keys are generated inside the token with every attribute set explicitly, and
are refused unless the token vouches that they were born there (LOCAL), were
always sensitive and were never extractable; this is checked after generation
and before every use. Each signature is verified with ``cryptography``
against the public key before it leaves this module.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

import pkcs11
import pkcs11.exceptions as pk
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from appliance.errors import (
    HsmError,
    KeyMissingError,
    KeyPolicyError,
    MechanismUnsupportedError,
    ModuleMissingError,
    PinIncorrectError,
    PinLockedError,
    SignatureCheckError,
    TokenMissingError,
    TokenRemovedError,
    UsageError,
)
from appliance.hsm.base import KeyInfo
from appliance.hsm.encoding import EC_PARAMS, normalize_low_s, public_key_from_ec_point
from appliance.hsm.uri import Pkcs11Uri
from custody.schemas.key_record import Algorithm, key_id_for
from custody.schemas.signatures import SignatureError, verify_signature

#: Where common modules live when a URI names ``module-name`` instead of ``module-path``.
MODULE_DIRS = (
    "/usr/lib/softhsm",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib",
)

_KEY_TYPE = {
    Algorithm.SECP256K1: KeyType.EC,
    Algorithm.P256: KeyType.EC,
    Algorithm.ED25519: KeyType.EC_EDWARDS,
}
_GEN_MECHANISM = {
    Algorithm.SECP256K1: Mechanism.EC_KEY_PAIR_GEN,
    Algorithm.P256: Mechanism.EC_KEY_PAIR_GEN,
    Algorithm.ED25519: Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
}
_SIGN_MECHANISM = {
    Algorithm.SECP256K1: Mechanism.ECDSA,
    Algorithm.P256: Mechanism.ECDSA,
    Algorithm.ED25519: Mechanism.EDDSA,
}
_REQUIRED_TRUE = (
    Attribute.LOCAL,
    Attribute.ALWAYS_SENSITIVE,
    Attribute.NEVER_EXTRACTABLE,
    Attribute.SENSITIVE,
)
_REQUIRED_FALSE = (Attribute.EXTRACTABLE,)

#: Signatures verified per task on the verifier thread: enough to amortise the hand-off.
_VERIFY_CHUNK = 32

_REMOVED = (pk.DeviceRemoved, pk.TokenNotPresent, pk.SessionHandleInvalid, pk.SessionClosed, pk.DeviceError)


def translate(exc: pk.PKCS11Error, doing: str) -> HsmError:
    """The one place a PKCS#11 failure becomes a station error."""
    error: HsmError
    if isinstance(exc, pk.PinIncorrect):
        error = PinIncorrectError(f"{doing}: the HSM rejected the PIN reconstructed from the cards")
    elif isinstance(exc, pk.PinLocked):
        error = PinLockedError(f"{doing}: the HSM user PIN is locked; it needs the security officer")
    elif isinstance(exc, _REMOVED):
        error = TokenRemovedError(f"{doing}: the token was removed or stopped answering")
    elif isinstance(exc, pk.MechanismInvalid | pk.FunctionNotSupported | pk.MechanismParamInvalid):
        error = MechanismUnsupportedError(f"{doing}: the HSM does not support this mechanism")
    elif isinstance(exc, pk.NoSuchKey | pk.KeyHandleInvalid | pk.ObjectHandleInvalid):
        error = KeyMissingError(f"{doing}: the key is not on the token")
    elif isinstance(exc, pk.NoSuchToken):
        error = TokenMissingError(f"{doing}: no such token")
    else:
        error = HsmError(f"{doing}: the HSM failed ({type(exc).__name__})")
    error.__cause__ = exc
    return error


_LIBRARIES: dict[str, Any] = {}
_LIBRARIES_LOCK = threading.Lock()


def resolve_module(uri: Pkcs11Uri) -> str:
    if uri.module_path:
        path = uri.module_path
    elif uri.module_name:
        candidates = [os.path.join(d, f"{uri.module_name}.so") for d in MODULE_DIRS]
        candidates += [os.path.join(d, f"lib{uri.module_name}.so") for d in MODULE_DIRS]
        path = next((c for c in candidates if os.path.isfile(c)), candidates[0])
    else:
        raise UsageError("the PKCS#11 URI must name the module: add ?module-path=/path/to/module.so")
    if not os.path.isfile(path):
        raise ModuleMissingError(f"PKCS#11 module {path} is not installed")
    return path


def load_module(path: str) -> Any:
    """Load a PKCS#11 module once per process (a module is initialised once per application)."""
    with _LIBRARIES_LOCK:
        if path not in _LIBRARIES:
            try:
                _LIBRARIES[path] = pkcs11.lib(path)
            except (RuntimeError, OSError) as exc:
                raise ModuleMissingError(f"cannot load PKCS#11 module {path}: {exc}") from exc
        return _LIBRARIES[path]


def find_token(uri: Pkcs11Uri) -> Any | None:
    """The token the URI names, or None if no such token is present."""
    library = load_module(resolve_module(uri))
    if uri.token is None and uri.serial is None:
        raise UsageError("the PKCS#11 URI must name the token: token=<label> or serial=<serial>")
    try:
        tokens = list(
            library.get_tokens(
                token_label=uri.token, token_serial=uri.serial.encode() if uri.serial else None
            )
        )
    except pk.PKCS11Error as exc:
        raise translate(exc, "listing tokens") from exc
    if len(tokens) > 1:
        raise UsageError("the PKCS#11 URI matches more than one token; add serial=")
    return tokens[0] if tokens else None


class Pkcs11Token:
    """A token chosen by URI. Open a ceremony with ``session(pin)``."""

    def __init__(self, uri: Pkcs11Uri) -> None:
        self.uri = uri
        token = find_token(uri)
        if token is None:
            raise TokenMissingError(f"no token {uri.token or uri.serial!r} in {resolve_module(uri)}")
        self._token = token
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return str(self._token.label)

    @property
    def serial(self) -> str:
        return bytes(self._token.serial).decode("ascii", "replace").strip()

    def supports(self, algorithm: Algorithm) -> bool:
        try:
            mechanisms = set(self._token.slot.get_mechanisms())
        except pk.PKCS11Error as exc:
            raise translate(exc, "listing mechanisms") from exc
        return {_GEN_MECHANISM[algorithm], _SIGN_MECHANISM[algorithm]} <= mechanisms

    @contextmanager
    def session(self, pin: str, *, rw: bool = False) -> Iterator[Pkcs11Session]:
        """One logged-in session for a ceremony; logged out and closed however it ends."""
        with self._lock, self._hold(self._open(pin, rw)) as session:
            yield session

    @contextmanager
    def _hold(self, raw: Any) -> Iterator[Pkcs11Session]:
        try:
            yield Pkcs11Session(self, raw)
        finally:
            # C_Logout when we logged in, then C_CloseSession; a vanished token has nothing to close.
            with suppress(pk.PKCS11Error):
                raw.close()

    def _open(self, pin: str, rw: bool) -> Any:
        try:
            return self._token.open(user_pin=pin, rw=rw)
        except pk.UserAlreadyLoggedIn:
            # Another session of this process is logged in: login state is per token.
            try:
                return self._token.open(rw=rw)
            except pk.PKCS11Error as exc:
                raise translate(exc, "opening a session") from exc
        except pk.PKCS11Error as exc:
            raise translate(exc, "logging in") from exc

    @contextmanager
    def so_session(self, so_pin: str) -> Iterator[Pkcs11Session]:
        """A security-officer session, for changing the SO PIN during card rotation."""
        with self._lock:
            try:
                raw = self._token.open(so_pin=so_pin, rw=True)
            except pk.PKCS11Error as exc:
                raise translate(exc, "logging in as security officer") from exc
            with self._hold(raw) as session:
                yield session


class Pkcs11Session:
    """A logged-in session. Implements ``Signer``."""

    def __init__(self, token: Pkcs11Token, raw: Any) -> None:
        self.token = token
        self._raw = raw

    def generate_key(self, algorithm: Algorithm, label: str) -> KeyInfo:
        """A new key pair inside the token, every attribute explicit, then checked."""
        if not self.token.supports(algorithm):
            raise MechanismUnsupportedError(
                f"this HSM does not offer {algorithm.value} key generation and signing"
            )
        handle_id = secrets.token_bytes(16)
        common = {
            Attribute.TOKEN: True,
            Attribute.LABEL: label,
            Attribute.ID: handle_id,
            Attribute.MODIFIABLE: False,
        }
        public_template = {
            **common,
            Attribute.PRIVATE: False,
            Attribute.VERIFY: True,
            Attribute.VERIFY_RECOVER: False,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
            Attribute.DERIVE: False,
        }
        private_template = {
            **common,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.SIGN_RECOVER: False,
            Attribute.DECRYPT: False,
            Attribute.UNWRAP: False,
            Attribute.DERIVE: False,
        }
        try:
            self._generate(algorithm, public_template, private_template)
        except pk.PKCS11Error as exc:
            raise translate(exc, f"generating a {algorithm.value} key") from exc
        key = self._key_info(self._private_key(handle_id=handle_id))
        self.check_key(key)
        return key

    def _generate(self, algorithm: Algorithm, public: dict[Any, Any], private: dict[Any, Any]) -> None:
        params = self._raw.create_domain_parameters(
            _KEY_TYPE[algorithm], {Attribute.EC_PARAMS: EC_PARAMS[algorithm]}, local=True
        )
        params.generate_keypair(
            store=True,
            mechanism=_GEN_MECHANISM[algorithm],
            public_template=public,
            private_template=private,
        )

    def keys(self) -> list[KeyInfo]:
        try:
            found = list(self._raw.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
        except pk.PKCS11Error as exc:
            raise translate(exc, "listing keys") from exc
        return [self._key_info(k) for k in found]

    def find_key(self, label: str | None = None, handle_id: bytes | None = None) -> KeyInfo:
        """A key by label (CKA_LABEL, a URI's ``object``) and/or CKA_ID (a URI's ``id``)."""
        if label is None and handle_id is None:
            raise UsageError("name a key by label or id")
        return self._key_info(self._private_key(label=label, handle_id=handle_id))

    def _private_key(self, *, label: str | None = None, handle_id: bytes | None = None) -> Any:
        try:
            return self._raw.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label, id=handle_id)
        except pk.NoSuchKey:
            wanted = (
                f"labelled {label!r}"
                if label is not None
                else f"with id {handle_id.hex() if handle_id else ''}"
            )
            raise KeyMissingError(f"no key {wanted} on token {self.token.label!r}") from None
        except pk.MultipleObjectsReturned:
            raise KeyMissingError(f"more than one key labelled {label!r}; refusing to guess") from None
        except pk.PKCS11Error as exc:
            raise translate(exc, "finding the key") from exc

    def _key_info(self, private: Any) -> KeyInfo:
        try:
            label = str(private[Attribute.LABEL])
            handle_id = bytes(private[Attribute.ID])
            key_type = private[Attribute.KEY_TYPE]
            public = self._raw.get_key(object_class=ObjectClass.PUBLIC_KEY, id=handle_id)
            params = bytes(public[Attribute.EC_PARAMS])
            point = bytes(public[Attribute.EC_POINT])
        except pk.NoSuchKey:
            raise KeyMissingError("the key's public half is missing from the token") from None
        except pk.PKCS11Error as exc:
            raise translate(exc, "reading the key") from exc
        algorithm = next((a for a, p in EC_PARAMS.items() if p == params and _KEY_TYPE[a] == key_type), None)
        if algorithm is None:
            raise KeyPolicyError(f"key {label!r} is of a type or curve this station does not use")
        public_key = public_key_from_ec_point(algorithm, point)
        return KeyInfo(
            algorithm=algorithm,
            label=label,
            public_key=public_key,
            key_id=key_id_for(public_key),
            handle_id=handle_id,
        )

    def check_key(self, key: KeyInfo) -> Any:
        """The private key object, after proving it was born in the HSM and can never leave."""
        private = self._private_key(handle_id=key.handle_id)
        try:
            attributes = private.get_attributes([*_REQUIRED_TRUE, *_REQUIRED_FALSE, Attribute.SIGN])
        except pk.PKCS11Error as exc:
            raise translate(exc, "reading key attributes") from exc
        failed = [a.name for a in _REQUIRED_TRUE if attributes.get(a) is not True]
        failed += [a.name for a in _REQUIRED_FALSE if attributes.get(a) is not False]
        if attributes.get(Attribute.SIGN) is not True:
            failed.append("SIGN")
        if failed:
            raise KeyPolicyError(
                f"key {key.label!r} fails {', '.join(failed)}: it may have existed outside the HSM; refused"
            )
        return private

    def sign(self, key: KeyInfo, digest: bytes) -> bytes:
        return self.sign_batch(key, [digest])[0]

    def sign_batch(self, key: KeyInfo, digests: Sequence[bytes]) -> list[bytes]:
        """Sign each 32-byte digest in this one session; nothing is returned until all verify.

        In a batch, verification runs on a second thread, a chunk at a time,
        while the HSM computes the next signatures (python-pkcs11 releases the
        GIL inside C_Sign), so checking every signature costs less than it
        would in line. A lone signature is verified in line.
        """
        if any(len(d) != 32 for d in digests):
            raise UsageError("only 32-byte digests are signed")
        private = self.check_key(key)
        if len(digests) == 1:
            signature = self._sign_one(private, key, digests[0])
            self._verify_chunk(key, digests, [signature])
            return [signature]
        signatures: list[bytes] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") as verifier:
            checks = []
            for start in range(0, len(digests), _VERIFY_CHUNK):
                chunk = digests[start : start + _VERIFY_CHUNK]
                signed = [self._sign_one(private, key, digest) for digest in chunk]
                signatures.extend(signed)
                checks.append(verifier.submit(self._verify_chunk, key, chunk, signed))
            for check in checks:
                check.result()
        return signatures

    def _sign_one(self, private: Any, key: KeyInfo, digest: bytes) -> bytes:
        try:
            signature = bytes(private.sign(digest, mechanism=_SIGN_MECHANISM[key.algorithm]))
        except pk.PKCS11Error as exc:
            raise translate(exc, f"signing with {key.label!r}") from exc
        return signature if key.algorithm is Algorithm.ED25519 else normalize_low_s(key.algorithm, signature)

    @staticmethod
    def _verify_chunk(key: KeyInfo, digests: Sequence[bytes], signatures: Sequence[bytes]) -> None:
        for digest, signature in zip(digests, signatures, strict=True):
            try:
                verify_signature(key.algorithm, key.public_key, digest, signature)
            except SignatureError as exc:
                raise SignatureCheckError(
                    f"the HSM's signature with {key.label!r} does not verify: {exc}"
                ) from None

    def set_pin(self, old_pin: str, new_pin: str) -> None:
        """C_SetPIN for whoever is logged in: the user, or the security officer."""
        try:
            self._raw.set_pin(old_pin, new_pin)
        except pk.PKCS11Error as exc:
            raise translate(exc, "changing a PIN") from exc

    def read_data(self, label: str) -> list[bytes]:
        """The values of the private data objects labelled ``label`` (normally one)."""
        try:
            return [bytes(obj[Attribute.VALUE]) for obj in self._raw.get_objects(_data_template(label))]
        except pk.PKCS11Error as exc:
            raise translate(exc, f"reading {label!r}") from exc

    def write_data(self, label: str, value: bytes) -> None:
        """Replace the private data object ``label``: readable and writable only when logged in,
        so only a quorum of custodians can change it.

        Tokens differ on whether a data object's value may be modified (SoftHSM
        says no), so the new object is created first and the old ones
        destroyed after: a crash in between leaves both, never neither, and
        the caller picks the newer.
        """
        try:
            old = list(self._raw.get_objects(_data_template(label)))
            self._raw.create_object(
                {
                    **_data_template(label),
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.MODIFIABLE: True,
                    Attribute.APPLICATION: "airgap-station",
                    Attribute.VALUE: value,
                }
            )
            for obj in old:
                obj.destroy()
        except pk.PKCS11Error as exc:
            raise translate(exc, f"writing {label!r}") from exc
        if self.read_data(label) != [value]:
            raise HsmError(f"the token did not store {label!r} as written")


def _data_template(label: str) -> dict[Any, Any]:
    return {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: label}
