"""Chia vaults: MIPS custody over r1/k1 members, the SDK's parser and Simulator as the judge."""
