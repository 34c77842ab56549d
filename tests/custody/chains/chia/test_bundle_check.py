"""A Chia vault's bundle counts a response only if its chain signature is over the payload's message."""

from __future__ import annotations

from dataclasses import replace

from custody.chains.chia.adapter import ChiaAdapter
from custody.schemas.bundle import Problem, SignedBundle, check_bundle, check_response
from tests.custody.chains.chia.kit import T0, XCH, keys, mint
from tests.custody.chains.chia.test_adapter import withdrawal

NOW = T0 + 7200


def test_a_response_counts_only_with_a_chain_signature_over_the_payloads_message() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH)
    message = ChiaAdapter().parse(cv.definition, request.payload).message
    good = [k.respond(request, message, approved_at=NOW) for k in cv.signers[:2]]
    assert check_bundle(cv.definition, SignedBundle(request=request, responses=tuple(good)), now=NOW) == []
    signer = cv.signers[0]
    # a station's genuine statement over a chain signature on something else: the statement verifies,
    # the chain signature does not, and the response does not count
    wrong = signer.respond(request, bytes(32), approved_at=NOW)
    finding = check_response(cv.definition, request, wrong)
    assert finding is not None and finding.problem is Problem.BAD_SIGNATURE
    assert "chain signature" in finding.text
    missing = replace(wrong, chain_signature=b"")
    missing = replace(missing, signature=signer.sign(missing.statement_digest()))
    finding = check_response(cv.definition, request, missing)
    assert finding is not None and "no chain signature" in finding.text
    bundle = SignedBundle(request=request, responses=(wrong, good[1]))
    assert {f.problem for f in check_bundle(cv.definition, bundle, now=NOW)} == {
        Problem.BAD_SIGNATURE,
        Problem.TOO_FEW,
    }


def test_a_request_whose_payload_is_not_the_vaults_spend_counts_no_response() -> None:
    cv = mint(keys(3), 2)
    request = withdrawal(cv, 10 * XCH)
    message = ChiaAdapter().parse(cv.definition, request.payload).message
    other = mint(keys(3), 2, fund=(70 * XCH,))  # same keys, another launcher: another vault
    assert other.launcher_id != cv.launcher_id
    foreign = replace(request, payload=withdrawal(other, 10 * XCH).payload)
    response = cv.signers[0].respond(foreign, message, approved_at=NOW)
    finding = check_response(cv.definition, foreign, response)
    assert finding is not None and finding.problem is Problem.TAMPERED
