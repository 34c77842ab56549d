"""The station's subcommands, one module per ceremony: keys, policies and signing, the audit log."""
