from __future__ import annotations

import pytest

from appliance.errors import UsageError
from appliance.hsm.uri import Pkcs11Uri, parse


def test_softhsm_example() -> None:
    uri = parse("pkcs11:token=station-a?module-path=/usr/lib/softhsm/libsofthsm2.so")
    assert uri == Pkcs11Uri(token="station-a", module_path="/usr/lib/softhsm/libsofthsm2.so")


def test_all_selectors_and_percent_encoding() -> None:
    uri = parse(
        "pkcs11:token=My%20Token;serial=0123abcd;object=vault%2F1;id=%01%02%ff;type=private;"
        "manufacturer=SoftHSM%20project;model=SoftHSM%20v2;slot-id=7?module-path=/opt/x/lib.so"
    )
    assert (uri.token, uri.serial, uri.object, uri.id, uri.type) == (
        "My Token",
        "0123abcd",
        "vault/1",
        b"\x01\x02\xff",
        "private",
    )
    assert uri.slot_id == 7 and uri.model == "SoftHSM v2"
    assert parse(str(uri)) == uri


@pytest.mark.parametrize(
    "text",
    [
        # Documented production modules (not tested against hardware here).
        "pkcs11:token=YubiHSM?module-path=/usr/lib/x86_64-linux-gnu/pkcs11/yubihsm_pkcs11.so",
        "pkcs11:token=luna-partition?module-path=/usr/safenet/lunaclient/lib/libCryptoki2_64.so",
        "pkcs11:token=accelerator?module-path=/opt/nfast/toolkits/pkcs11/libcknfast.so",
        "pkcs11:token=cavium?module-path=/opt/cloudhsm/lib/libcloudhsm_pkcs11.so",
        "pkcs11:token=SmartCard-HSM?module-path=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    ],
)
def test_vendor_examples_parse(text: str) -> None:
    assert parse(text).module_path is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("token=x", "must start with 'pkcs11:'"),
        ("pkcs11:token=x?pin-value=1234", "PINs come from custodian cards"),
        ("pkcs11:token=x?pin-source=file:/tmp/pin", "PINs come from custodian cards"),
        ("pkcs11:colour=red", "unknown or malformed"),
        ("pkcs11:token=a;token=b", "given twice"),
        ("pkcs11:slot-id=x", "decimal"),
        ("pkcs11:type=banana", "type must be"),
        ("pkcs11:token=%ff%fe", "UTF-8"),
    ],
)
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(text)


def test_token_part_drops_object_selectors() -> None:
    uri = parse("pkcs11:token=t;object=k;id=%01;type=private?module-path=/m.so")
    assert uri.names_key and not uri.token_part().names_key
    assert uri.token_part() == parse("pkcs11:token=t?module-path=/m.so")
