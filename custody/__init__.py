"""What the station and the host must agree on: message schemas, the policy engine, vault state.

No camera, no HSM, no SQLite: pure values and functions, so both sides run
the same code and the tests walk it without hardware.
"""
