"""Fuzz targets for the messages both sides exchange: strict CBOR, and each message type on it.

Every message is canonical CBOR, so an accepted one must re-encode to the
very bytes read. A request is also judged as a station judges it (policy
and review), a bundle as ``host verify`` checks it, an audit export as
``host audit`` reads it: what is accepted must be usable without raising.
"""

from __future__ import annotations

import io

from fuzz_common import REFUSALS, judge, policy, require, station_now

from custody.schemas import strict
from custody.schemas.audit_log import export_bytes, read_export, verify_chain
from custody.schemas.bundle import SignedBundle, check_bundle
from custody.schemas.history import RequestCore
from custody.schemas.key_record import KeyRecord
from custody.schemas.request import SpendRequest
from custody.schemas.response import Refusal, SignatureResponse
from custody.schemas.vault import StationPolicy, VaultDefinition


def strict_cbor(data: bytes) -> None:
    """The one decoder every message goes through: one canonical definite-length item."""
    try:
        value = strict.decode(data, what="fuzz")
    except REFUSALS:
        return
    require(strict.encode(value) == data, "strict CBOR re-encodes")


def spend_request(data: bytes) -> None:
    """A request as the station reads it, then decided and reviewed under a statement vault."""
    try:
        request = SpendRequest.from_cbor(data)
    except REFUSALS:
        return
    require(request.to_cbor() == data, "spend request re-encodes")
    require(len(request.digest()) == 32, "a request has a digest")
    judge(policy("statement"), request)


def request_core(data: bytes) -> None:
    """A request's core, as history entries and the audit log carry it."""
    try:
        core = RequestCore.from_cbor(data)
    except REFUSALS:
        return
    require(core.to_cbor() == data, "request core re-encodes")


def responses(data: bytes) -> None:
    """A station's answer: a signature response or a refusal (the host tries both, as here)."""
    try:
        response = SignatureResponse.from_cbor(data)
    except REFUSALS:
        pass
    else:
        require(response.to_cbor() == data, "signature response re-encodes")
        require(len(response.statement_digest()) == 32, "a response has a statement digest")
    try:
        refusal = Refusal.from_cbor(data)
    except REFUSALS:
        return
    require(refusal.to_cbor() == data, "refusal re-encodes")


def signed_bundle(data: bytes) -> None:
    """A signed bundle as ``host verify`` reads it, checked against a statement vault."""
    try:
        bundle = SignedBundle.from_cbor(data)
    except REFUSALS:
        return
    require(bundle.to_cbor() == data, "signed bundle re-encodes")
    vault = policy("statement").vault
    try:
        check_bundle(vault, bundle, now=station_now(bundle.request))
    except REFUSALS:
        return


def key_record(data: bytes) -> None:
    """A station's exported key, as ``host enrol`` reads it."""
    try:
        record = KeyRecord.from_cbor(data)
    except REFUSALS:
        return
    require(record.to_cbor() == data, "key record re-encodes")


def vault(data: bytes) -> None:
    """A vault definition (any chain binding) and a station policy, as the host and station read them."""
    try:
        definition = VaultDefinition.from_cbor(data)
    except REFUSALS:
        pass
    else:
        require(definition.to_cbor() == data, "vault definition re-encodes")
        require(len(definition.digest()) == 32, "a vault has a digest")
    try:
        installed = StationPolicy.from_cbor(data)
    except REFUSALS:
        return
    require(installed.to_cbor() == data, "station policy re-encodes")


def audit_export(data: bytes) -> None:
    """A station's audit export as ``host audit`` reads it: the signed head, then every entry in turn,
    the hash chain recomputed. A whole accepted export must write back and read back equal."""
    try:
        header, lazy = read_export(io.BytesIO(data))
        entries = list(lazy)
        for entry in entries:
            entry.fields()
    except REFUSALS:
        return
    report = verify_chain(entries)
    require(report.count == len(entries), "every entry is counted")
    require(len(header.statement_digest()) == 32, "the head has a statement digest")
    require(export_bytes(header, entries) == data, "audit export re-encodes byte for byte")
