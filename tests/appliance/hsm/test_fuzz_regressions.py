"""PKCS#11 URIs that broke the fuzz invariant (a UsageError or a URI), refused cleanly now.

Written with the ``pkcs11_uri`` target from its invariant: ``str.isdigit``
holds for "²" and for other scripts' digits, which ``int`` refuses or reads,
and ``int`` refuses more than 4300 digits; both raised a bare ValueError.
"""

from __future__ import annotations

import pytest

from appliance.errors import UsageError
from appliance.hsm import uri


@pytest.mark.parametrize(
    "slot",
    ["\u00b2", "\u0663", "9" * 5000, "1" * 21],
    ids=["superscript", "arabic-indic", "huge", "21-digits"],
)
def test_fuzz_slot_id_that_is_not_a_small_ascii_number_is_a_usage_error(slot: str) -> None:
    with pytest.raises(UsageError, match="slot-id"):
        uri.parse(f"pkcs11:token=a;slot-id={slot}")


def test_fuzz_slot_id_of_twenty_digits_still_reads() -> None:
    assert uri.parse("pkcs11:slot-id=18446744073709551615").slot_id == 2**64 - 1
