"""Token access and input validation of the web API (in-process ASGI)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from web_support import TOKEN, web_settings

from openintern.web.app import create_app
from openintern.web.auth import WebConfigError, resolve_token


@pytest.fixture
def client(workspace: Path) -> httpx.AsyncClient:
    app = create_app(web_settings("http://127.0.0.1:9", workspace), TOKEN)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_requests_without_or_with_a_wrong_token_are_refused(
        client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/sessions")).status_code == 401
    wrong = await client.get("/api/sessions", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "token" in wrong.json()["detail"]
    assert (await client.get("/api/sessions", params={"token": "nope"})).status_code == 401
    page = await client.get("/")
    assert page.status_code == 401 and "intern serve" in page.text
    events = await client.get("/api/sessions/abc/events")
    assert events.status_code == 401


async def test_token_in_url_sets_a_cookie_that_works_afterwards(
        client: httpx.AsyncClient) -> None:
    first = await client.get("/", params={"token": TOKEN})
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # The client kept the cookie: no token needed from now on.
    assert (await client.get("/api/sessions")).json() == []
    assert (await client.get("/")).status_code == 200


async def test_bearer_header_and_query_token_work(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert (await client.get("/api/sessions", params={"token": TOKEN})).status_code == 200


@pytest.mark.parametrize("body", [
    {}, {"goal": ""}, {"goal": "x", "budget_usd": -1}, {"goal": "x", "sandbox": "docker"},
    {"goal": "x", "job_backend": "slurm"}, {"goal": "x", "surprise": 1}, [1, 2],
])
async def test_malformed_new_session_is_a_clear_422(
        client: httpx.AsyncClient, body: object) -> None:
    r = await client.post("/api/sessions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422
    assert r.json()["detail"]


async def test_bad_requests_get_4xx_not_500(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    not_json = await client.post("/api/sessions", content=b"{goal", headers={
        **auth, "content-type": "application/json"})
    assert not_json.status_code == 422
    assert (await client.get("/api/sessions/nope", headers=auth)).status_code == 404
    assert (await client.post("/api/sessions/nope/messages", json={"text": "hi"},
                              headers=auth)).status_code == 404
    assert (await client.post("/api/sessions/nope/budget", json={"budget_usd": "lots"},
                              headers=auth)).status_code == 422
    assert (await client.get("/api/experiments/nope/metrics", headers=auth)).status_code == 404


def test_open_host_without_a_configured_token_is_refused() -> None:
    with pytest.raises(WebConfigError, match="OPENINTERN_WEB_TOKEN"):
        resolve_token(None, "0.0.0.0")
    assert resolve_token("chosen", "0.0.0.0") == "chosen"
    generated = resolve_token(None, "127.0.0.1")
    assert len(generated) >= 32 and generated != resolve_token(None, "::1")
