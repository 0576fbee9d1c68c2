"""The hub tool over real HTTP against local servers replaying recorded Hub bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route, load_fixture

from openintern.data.hub import parse_info, parse_summary
from openintern.tools.base import ToolError
from openintern.tools.hub import Hub

CARD = ("---\nlicense: apache-2.0\nlanguage: en\n---\n"
        "# BERT base model (uncased)\n\nPretrained on English.")


def test_parse_recorded_bodies() -> None:
    listing = json.loads(load_fixture("hub/models_list.json"))
    first = parse_summary(listing[0], "model")
    assert first.id == "deepseek-ai/DeepSeek-V4-Pro" and first.license == "mit"
    assert first.library == "transformers" and first.pipeline_tag == "text-generation"
    info = parse_info(json.loads(load_fixture("hub/model_info_roberta_squad2.json")), "model")
    assert info.license == "cc-by-4.0" and info.parameters == 124_057_092
    assert any(r.startswith("squad_v2 validation: Exact Match = 79.93") for r in info.eval_results)
    diffusers = parse_info(json.loads(load_fixture("hub/model_info_diffusers.json")), "model")
    assert diffusers.parameters is None  # diffusers repos carry no safetensors summary
    assert diffusers.library == "diffusers"


async def test_search_models(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/api/models": Route(fixture="hub/models_list.json")})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Hub(), ctx, operation="search", query="qwen", sort="likes",
                            filter="text-generation", limit=3)
    assert result.data["results"][0] == "deepseek-ai/DeepSeek-V4-Pro"
    assert ("| Qwen/Qwen3.6-27B | image-text-to-text | transformers | 257,685 | 796 | "
            "apache-2.0 |") in result.text
    assert server.requests[0].query == {"search": "qwen", "sort": "likes", "direction": "-1",
                                        "limit": "3", "filter": "text-generation"}


async def test_info_follows_rename_and_shows_card(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({
        "/api/models/bert-base-uncased": Route(
            status=307, fixture="hub/model_info_redirect_307.txt",
            headers={"Location": "/api/models/google-bert/bert-base-uncased"}),
        "/api/models/google-bert/bert-base-uncased": Route(fixture="hub/model_info.json"),
        "/bert-base-uncased/resolve/main/README.md": Route(body=CARD),
    })
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Hub(), ctx, operation="info", repo_id="bert-base-uncased")
    text = result.text
    assert text.startswith("## model google-bert/bert-base-uncased")
    assert "- task: fill-mask" in text and "- license: apache-2.0" in text
    assert "- downloads: 72,376,843" in text
    assert "# BERT base model (uncased)" in text and "language: en" not in text
    assert "model.safetensors" in text


async def test_token_only_sent_to_hub_host(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    cdn = serve({"/blob/config.json": Route(body={"model_type": "bert"})})
    hub = serve({"/org/model/resolve/main/config.json": Route(
        status=302, headers={"Location": f"{cdn.url}/blob/config.json"})})
    ctx = make_ctx(tmp_path, hf_endpoint=hub.url, hf_token="hf_secret_value")
    result = await run_tool(Hub(), ctx, operation="read", repo_id="org/model",
                            path="config.json")
    assert json.loads(result.text) == {"model_type": "bert"}
    assert hub.requests[0].headers["authorization"] == "Bearer hf_secret_value"
    assert "authorization" not in cdn.requests[0].headers


async def test_list_files(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    # GAP: no recorded /tree body. Built from the Hub API docs' entry shape
    # (type, oid, size, path, lfs{oid,size,pointerSize} for LFS files).
    tree = [
        {"type": "file", "oid": "a" * 40, "size": 570, "path": "config.json"},
        {"type": "directory", "oid": "b" * 40, "size": 0, "path": "onnx"},
        {"type": "file", "oid": "c" * 40, "size": 135, "path": "model.safetensors",
         "lfs": {"oid": "d" * 64, "size": 440449768, "pointerSize": 135}},
    ]
    server = serve({"/api/datasets/org/data/tree/main": Route(body=tree)})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Hub(), ctx, operation="files", repo_id="org/data",
                            repo_type="dataset")
    assert "- onnx/" in result.text
    assert "- model.safetensors (440,449,768 bytes)" in result.text


async def test_missing_repo_and_bad_id_give_clear_errors(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    with pytest.raises(ToolError, match=r"HTTP 404.*check the id"):
        await run_tool(Hub(), ctx, operation="files", repo_id="nobody/nothing")
    with pytest.raises(ToolError, match="not a Hub repo id"):
        await run_tool(Hub(), ctx, operation="info", repo_id="a/b/c")
    with pytest.raises(ToolError, match="needs repo_id"):
        await run_tool(Hub(), ctx, operation="info")


async def test_unauthorized_names_the_token_setting(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/api/models/org/gated":
                    Route(status=401, body={"error": "Invalid credentials"})})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    with pytest.raises(ToolError, match="HF_TOKEN"):
        await run_tool(Hub(), ctx, operation="info", repo_id="org/gated")


async def test_a_disabled_repo_is_shown_with_a_warning(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    # No dataset-info body was recorded (tests/fixtures/SOURCES.md, Gaps); the recorded
    # repo body carries the same "disabled" field (huggingface_hub's DatasetInfo and
    # ModelInfo both document it), here with the value the Hub sends for a disabled repo.
    body = json.loads(load_fixture("hub/model_info.json"))
    assert body["disabled"] is False
    body["disabled"] = True
    server = serve({"/api/datasets/org/retired": Route(body=body),
                    "/datasets/org/retired/resolve/main/README.md": Route(status=404, body="")})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Hub(), ctx, operation="info", repo_id="org/retired",
                            repo_type="dataset")
    first, second = result.text.splitlines()[:2]
    assert first.startswith("## dataset ")
    assert second.startswith("WARNING: this dataset is DISABLED on the Hub")
