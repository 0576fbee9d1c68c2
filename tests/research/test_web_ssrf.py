"""SSRF: the web tool (it runs on the host) refuses the host's own services, private
networks and cloud metadata, after DNS resolution and on every redirect, and obeys
--no-network. Each attack would succeed (or at least be attempted) on the first version."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route

from openintern.sources.address_policy import AddressPolicy, why_not_public
from openintern.tools.base import ToolError
from openintern.tools.web import Web

SECRET_PAGE = "<html><body><p>internal dashboard: token=abc</p></body></html>"


async def test_loopback_service_is_refused(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/admin": Route(body=SECRET_PAGE, content_type="text/html")})
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match="loopback address"):
        await run_tool(Web(), ctx, operation="fetch", url=f"{server.url}/admin")
    assert server.requests == []  # refused before connecting


async def test_a_name_resolving_to_loopback_is_refused(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/admin": Route(body=SECRET_PAGE, content_type="text/html")})
    port = server.url.rsplit(":", 1)[1]
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match=r"localhost \(resolves to .*\): it is a loopback"):
        await run_tool(Web(), ctx, operation="fetch", url=f"http://localhost:{port}/admin")
    assert server.requests == []


@pytest.mark.parametrize(("url", "kind"), [
    ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
    ("http://10.0.0.5:8265/api/jobs/", "private-network"),
    ("http://192.168.1.1/", "private-network"),
    ("http://100.100.100.200/latest/meta-data/", "not a public address"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[::ffff:127.0.0.1]:8080/", "loopback"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "private-network"),
    ("http://0.0.0.0:8080/", "unspecified"),
])
async def test_private_and_metadata_addresses_are_refused(tmp_path: Path, url: str,
                                                           kind: str) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(ToolError, match=kind) as caught:
        await run_tool(Web(), ctx, operation="fetch", url=url)
    assert "web_fetch_allow" in str(caught.value)  # the message says how to open one


async def test_redirect_to_a_private_address_is_refused(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    # The user opened one host on purpose; it redirects to the metadata service and to
    # loopback by address: neither hop is followed.
    server = serve({
        "/meta": Route(status=302, headers={"Location": "http://169.254.169.254/latest/"}),
        "/loop": Route(status=302, headers={"Location": "/admin"}),
        "/admin": Route(body=SECRET_PAGE, content_type="text/html"),
    })
    port = server.url.rsplit(":", 1)[1]
    ctx = make_ctx(tmp_path, web_fetch_allow=["localhost"])
    with pytest.raises(ToolError, match="link-local"):
        await run_tool(Web(), ctx, operation="fetch", url=f"http://localhost:{port}/meta")
    # A relative redirect stays on the opened host: allowed.
    page = await run_tool(Web(), ctx, operation="fetch", url=f"http://localhost:{port}/loop")
    assert "internal dashboard" in page.text
    # The same service by its address is not opened.
    absolute = serve({"/go": Route(status=301, headers={"Location": f"{server.url}/admin"})})
    other = absolute.url.rsplit(":", 1)[1]
    with pytest.raises(ToolError, match="loopback"):
        await run_tool(Web(), ctx, operation="fetch", url=f"http://localhost:{other}/go")
    assert [r.path for r in server.requests] == ["/meta", "/loop", "/admin"]


async def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
    tmp_path: Path, serve
) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/p": Route(body="plain text", content_type="text/plain")})
    port = server.url.rsplit(":", 1)[1]
    ctx = make_ctx(tmp_path, web_fetch_allow=["localhost"])
    result = await run_tool(Web(), ctx, operation="fetch", url=f"http://localhost:{port}/p")
    assert "plain text" in result.text
    assert server.requests[0].headers["host"] == f"localhost:{port}"


async def test_no_network_turns_the_web_tool_off(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/p": Route(body="plain text", content_type="text/plain")})
    ctx = make_ctx(tmp_path, sandbox_network="off", web_fetch_allow=["127.0.0.1"])
    for arguments in ({"operation": "fetch", "url": f"{server.url}/p"},
                      {"operation": "search", "query": "anything"}):
        with pytest.raises(ToolError, match="--no-network"):
            await run_tool(Web(), ctx, **arguments)
    assert server.requests == []


def test_public_addresses_pass_and_allowlisted_networks_open() -> None:
    import ipaddress

    assert why_not_public(ipaddress.ip_address("93.184.215.14")) is None
    assert why_not_public(ipaddress.ip_address("2606:4700::1111")) is None
    policy = AddressPolicy.from_allowlist(["10.1.0.0/16", "wiki.internal"])
    assert policy.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("10.2.0.1")) is not None
    assert policy.host_allowed("WIKI.internal.")
