"""Creating a SoftHSM2 token, for development and CI stations only.

PKCS#11 has C_InitToken but python-pkcs11 does not expose it, so the token
is created with ``softhsm2-util``. Its PINs would show in the process list,
so it is given one-time random PINs that ``init`` replaces through PKCS#11
(C_SetPIN) moments later; the real PINs never appear on a command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from appliance.errors import HsmError, UsageError


def is_softhsm(module_path: str) -> bool:
    return "softhsm" in os.path.basename(module_path).lower()


def create_token(label: str, *, so_pin: str, user_pin: str) -> None:
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise UsageError("softhsm2-util is not installed (scripts/setup installs Debian's softhsm2)")
    argv = [tool, "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", user_pin]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise HsmError(
            f"softhsm2-util could not create token {label!r}: {detail[-1] if detail else 'no output'}"
        )
