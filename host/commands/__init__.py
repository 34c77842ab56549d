"""The host subcommands, one module per stage of the workflow."""
