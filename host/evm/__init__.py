"""The host on EVM chains: the embedded EVM that runs the real Safe, and building SafeTxs."""
