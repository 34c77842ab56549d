"""The networked host: registry, request builder, collector, finalizer, verifier, auditor."""
