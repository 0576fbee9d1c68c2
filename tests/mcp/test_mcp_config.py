"""The mcp_servers settings: one transport per server, secrets known to the redactor."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openintern.config import Settings
from openintern.mcp.tools import tool_name


def test_a_server_needs_exactly_one_transport() -> None:
    with pytest.raises(ValidationError, match="exactly one of `command`"):
        Settings(mcp_servers={"x": {}})
    with pytest.raises(ValidationError, match="exactly one of `command`"):
        Settings(mcp_servers={"x": {"command": "srv", "url": "http://127.0.0.1:1/mcp"}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Settings(mcp_servers={"x": {"command": "srv", "trusted_tool": ["typo"]}})


def test_header_and_secret_env_values_are_redacted_but_plain_env_is_not() -> None:
    settings = Settings(mcp_servers={
        "gh": {"command": "srv", "env": {"GITHUB_TOKEN": "ghp_abcdefghijklmnop1234",
                                          "DATA_ROOT": "/data/papers"}},
        "web": {"url": "http://127.0.0.1:1/mcp",
                "headers": {"Authorization": "Bearer s3cr3t-header-value"}},
    })
    secrets = settings.secret_values()
    assert "ghp_abcdefghijklmnop1234" in secrets
    assert "Bearer s3cr3t-header-value" in secrets
    assert "/data/papers" not in secrets


def test_tool_names_fit_every_provider() -> None:
    assert tool_name("files", "read_file") == "mcp__files__read_file"
    assert tool_name("my server", "do.thing") == "mcp__my_server__do_thing"
    long = tool_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long != tool_name("s" * 40, "t" * 41)
