"""The PKCS#11 adapter on a real SoftHSM token: keys, attributes, signatures and every fault."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pkcs11
import pkcs11.exceptions as pk
import pytest
from pkcs11 import Attribute, KeyType, Mechanism

from appliance.errors import (
    KeyMissingError,
    KeyPolicyError,
    MechanismUnsupportedError,
    ModuleMissingError,
    PinIncorrectError,
    PinLockedError,
    SignatureCheckError,
    TokenMissingError,
    TokenRemovedError,
)
from appliance.hsm.encoding import EC_PARAMS
from appliance.hsm.pkcs11_signer import Pkcs11Token, translate
from appliance.hsm.uri import parse
from custody.schemas.key_record import Algorithm
from custody.schemas.signatures import SECP256K1_ORDER, verify_signature
from tests.appliance.conftest import requires_softhsm

pytestmark = [pytest.mark.hsm, requires_softhsm]

DIGEST = hashlib.sha256(b"a spend request").digest()


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_generate_sign_verify(raw_token: tuple[str, str, str], algorithm: Algorithm) -> None:
    uri, pin, _ = raw_token
    token = Pkcs11Token(parse(uri))
    with token.session(pin, rw=True) as session:
        key = session.generate_key(algorithm, f"key-{algorithm.value}")
        assert key.key_id == hashlib.sha256(key.public_key).digest()
        signature = session.sign(key, DIGEST)
        verify_signature(algorithm, key.public_key, DIGEST, signature)  # independent re-check
        assert session.find_key(key.label) == key


def test_secp256k1_signatures_are_always_low_s(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    with Pkcs11Token(parse(uri)).session(pin, rw=True) as session:
        key = session.generate_key(Algorithm.SECP256K1, "k1")
        digests = [hashlib.sha256(bytes([i])).digest() for i in range(64)]
        signatures = session.sign_batch(key, digests)
    assert all(int.from_bytes(s[32:], "big") <= SECP256K1_ORDER // 2 for s in signatures)


def test_generated_key_attributes(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    with Pkcs11Token(parse(uri)).session(pin, rw=True) as session:
        key = session.generate_key(Algorithm.P256, "attrs")
        private = session.check_key(key)
        values = private.get_attributes(
            [Attribute.TOKEN, Attribute.PRIVATE, Attribute.MODIFIABLE, Attribute.DERIVE, Attribute.DECRYPT]
        )
    assert values == {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.MODIFIABLE: False,
        Attribute.DERIVE: False,
        Attribute.DECRYPT: False,
    }


def _extractable_key(session: Any, label: str) -> None:
    params = session._raw.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: EC_PARAMS[Algorithm.P256]}, local=True
    )
    params.generate_keypair(
        store=True,
        label=label,
        id=b"extractable",
        mechanism=Mechanism.EC_KEY_PAIR_GEN,
        private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True, Attribute.SIGN: True},
    )


def test_key_created_extractable_is_refused(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    with Pkcs11Token(parse(uri)).session(pin, rw=True) as session:
        _extractable_key(session, "leaky")
        key = session.find_key("leaky")
        with pytest.raises(KeyPolicyError, match=r"ALWAYS_SENSITIVE.*NEVER_EXTRACTABLE.*refused") as exc:
            session.sign(key, DIGEST)
    assert exc.value.exit_code == 18


def test_missing_key(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    with Pkcs11Token(parse(uri)).session(pin) as session, pytest.raises(KeyMissingError) as exc:
        session.find_key("nope")
    assert exc.value.exit_code == 13


def test_wrong_pin(raw_token: tuple[str, str, str]) -> None:
    uri, _, _ = raw_token
    with pytest.raises(PinIncorrectError) as exc, Pkcs11Token(parse(uri)).session("wrong-pin"):
        pass
    assert exc.value.exit_code == 15


def test_missing_module_and_token(softhsm: Path) -> None:
    with pytest.raises(ModuleMissingError) as exc:
        Pkcs11Token(parse("pkcs11:token=x?module-path=/nonexistent/libpkcs11.so"))
    assert exc.value.exit_code == 11
    with pytest.raises(TokenMissingError) as exc2:
        Pkcs11Token(parse("pkcs11:token=absent?module-path=/usr/lib/softhsm/libsofthsm2.so"))
    assert exc2.value.exit_code == 12


def test_already_logged_in_counts_as_success(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    first, second = Pkcs11Token(parse(uri)), Pkcs11Token(parse(uri))
    with first.session(pin, rw=True) as outer:
        key = outer.generate_key(Algorithm.P256, "shared")
        with second.session(pin) as inner:
            inner.sign(key, DIGEST)


class _Proxy:
    """Stands in for a python-pkcs11 object (Cython types cannot be patched), overriding some names."""

    def __init__(self, real: Any, **overrides: Any) -> None:
        self._real = real
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides[name] if name in self._overrides else getattr(self._real, name)


def test_mechanism_not_listed(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    token = Pkcs11Token(parse(uri))
    real = token._token
    without_eddsa = real.slot.get_mechanisms() - {Mechanism.EDDSA}
    token._token = _Proxy(real, slot=_Proxy(real.slot, get_mechanisms=lambda: without_eddsa))
    with token.session(pin, rw=True) as session, pytest.raises(MechanismUnsupportedError) as exc:
        session.generate_key(Algorithm.ED25519, "ed")
    assert exc.value.exit_code == 14


def _device_removed(*args: Any, **kwargs: Any) -> bytes:
    raise pk.DeviceRemoved()


def test_token_removed_mid_ceremony(raw_token: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    uri, pin, _ = raw_token
    token = Pkcs11Token(parse(uri))
    with pytest.raises(TokenRemovedError) as exc, token.session(pin, rw=True) as session:
        key = session.generate_key(Algorithm.P256, "k")
        real_check = session.check_key
        monkeypatch.setattr(session, "check_key", lambda k: _Proxy(real_check(k), sign=_device_removed))
        session.sign(key, DIGEST)
    assert exc.value.exit_code == 17
    assert isinstance(exc.value.__cause__, pk.DeviceRemoved)
    with token.session(pin) as again:  # the session was closed and logged out; a new one works
        assert again.find_key("k").label == "k"


@pytest.mark.parametrize(
    ("raised", "expected", "code"),
    [
        (pk.PinLocked(), PinLockedError, 16),
        (pk.PinIncorrect(), PinIncorrectError, 15),
        (pk.TokenNotPresent(), TokenRemovedError, 17),
        (pk.SessionHandleInvalid(), TokenRemovedError, 17),
        (pk.MechanismInvalid(), MechanismUnsupportedError, 14),
        (pk.NoSuchKey(), KeyMissingError, 13),
    ],
)
def test_translation_keeps_the_cause(raised: pk.PKCS11Error, expected: type, code: int) -> None:
    error = translate(raised, "doing something")
    assert isinstance(error, expected) and error.exit_code == code and error.__cause__ is raised


def test_pin_locked_at_login(raw_token: tuple[str, str, str]) -> None:
    uri, pin, _ = raw_token
    token = Pkcs11Token(parse(uri))

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise pk.PinLocked()

    token._token = _Proxy(token._token, open=locked)
    with pytest.raises(PinLockedError, match="locked"), token.session(pin):
        pass


def test_python_pkcs11_version_is_recent_enough() -> None:
    from importlib.metadata import version

    major, minor, *_ = (int(p) for p in version("python-pkcs11").split(".")[:2])
    assert (major, minor) >= (0, 9)
    assert pkcs11.lib is not None


@pytest.mark.parametrize("count", [1, 70])
def test_a_bad_hsm_signature_is_never_released(
    raw_token: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    uri, pin, _ = raw_token
    with Pkcs11Token(parse(uri)).session(pin, rw=True) as session:
        key = session.generate_key(Algorithm.P256, "liar")
        real_check = session.check_key
        monkeypatch.setattr(
            session, "check_key", lambda k: _Proxy(real_check(k), sign=lambda *a, **kw: bytes(64))
        )
        with pytest.raises(SignatureCheckError, match="does not verify") as exc:
            session.sign_batch(key, [DIGEST] * count)
    assert exc.value.exit_code == 19
