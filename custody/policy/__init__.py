"""The vault policy engine, shared: stations enforce it, the host checks requests against it first."""
