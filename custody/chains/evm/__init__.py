"""The EVM adapter: a Safe whose owners are the stations' secp256k1 keys (docs/evm.md)."""
