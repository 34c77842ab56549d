"""Message schemas both sides share: canonical CBOR, strict decoding, domain-separated digests."""
