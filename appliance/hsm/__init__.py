"""The HSM edge: PKCS#11 URIs, the adapter, and pure format conversions."""
