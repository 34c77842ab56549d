"""Policy files that broke the fuzz invariant (a PolicyFileError or a policy), refused cleanly now.

Written with the ``policy_toml`` target from its invariant: tomllib
recurses once per nested array or inline table, so a few thousand ``[``
(well within a policy file's size) raised RecursionError out of ``compile_policy``.
"""

from __future__ import annotations

import pytest

from custody.schemas.policy_toml import PolicyFileError, compile_policy


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 3000 + "]" * 3000, "x = " + "{a=" * 3000 + "1" + "}" * 3000],
    ids=["arrays", "tables"],
)
def test_fuzz_policy_nested_too_deeply_is_a_policy_file_error(text: str) -> None:
    with pytest.raises(PolicyFileError, match="nested too deeply"):
        compile_policy(text, "deep.toml")
