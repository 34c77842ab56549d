"""A salted commitment to a vault definition: published now, checkable by anyone later.

The NOT A HOTEL lesson: publish a commitment before anyone needs to rely on
it, so that later nobody can quietly swap the definition a bundle is checked
against. The salt keeps the commitment from revealing anything (a bare
digest of a definition can be matched against guesses of its keys and
destinations); revealing the salt with the definition opens it.
"""

from __future__ import annotations

from custody.errors import SchemaError
from custody.schemas.digests import Tag, tagged_digest

SALT_LEN = 32


def vault_commitment(vault_digest: bytes, salt: bytes) -> bytes:
    if len(salt) != SALT_LEN or len(vault_digest) != 32:
        raise SchemaError(f"a vault commitment takes a {SALT_LEN}-byte salt and a 32-byte vault digest")
    return tagged_digest(Tag.VAULT_COMMITMENT, salt + vault_digest)
