"""The datasets tool's Hub search and dataset-viewer inspection, over real HTTP against a
local fixture server replaying the maintainers' documented responses."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route

from openintern.data.datasets_server import describe_feature, parse_statistics
from openintern.tools.base import ToolError
from openintern.tools.datasets import Datasets

DS = "datasets_server/"

# GAP (see tests/fixtures/SOURCES.md): no recorded /api/datasets?search= body exists.
# This one follows the Hub's documented list-item shape (id, author, downloads, likes,
# tags, lastModified, private, createdAt), with values made up for the test.
DATASET_LIST = [
    {"_id": "621ffdd236468d709f181d58", "id": "stanfordnlp/imdb", "author": "stanfordnlp",
     "downloads": 150000, "likes": 300, "private": False,
     "tags": ["task_categories:text-classification", "language:en", "license:other"],
     "lastModified": "2024-01-04T16:39:53.000Z", "createdAt": "2022-03-02T23:29:22.000Z"},
    {"_id": "621ffdd236468d709f181d59", "id": "someone/imdb-copy", "author": "someone",
     "downloads": 12, "likes": 0, "private": False, "tags": ["license:mit"],
     "lastModified": "2024-02-01T00:00:00.000Z", "createdAt": "2024-02-01T00:00:00.000Z"},
]


async def test_search_lists_datasets_ranked(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve({"/api/datasets": Route(body=DATASET_LIST)})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Datasets(), ctx, operation="search", query="imdb", limit=2)
    assert result.data["results"] == ["stanfordnlp/imdb", "someone/imdb-copy"]
    assert "| stanfordnlp/imdb | 150,000 | 300 | other |" in result.text
    assert "raise limit" in result.text
    request = server.requests[0]
    assert request.query == {"search": "imdb", "sort": "downloads", "direction": "-1",
                             "limit": "2"}


def imdb_routes() -> dict[str, Route | list[Route]]:
    return {
        "/is-valid": Route(fixture=DS + "is_valid__all_the_capabilities.json"),
        # Documented example for a one-config dataset: glue/ax (config "ax", split "test").
        "/splits": Route(body={"splits": [{"dataset": "nyu-mll/glue", "config": "ax",
                                           "split": "test"}], "pending": [], "failed": []}),
        "/info": Route(fixture=DS + "info__config_metadata.json", query={"config": "ax"}),
        "/size": Route(fixture=DS + "size__config_size.json"),
        "/first-rows": Route(fixture=DS + "first_rows__a_simple_dataset_stanfordnlp_"
                             "stanfordnlp_imdb_with.json"),
        "/statistics": Route(fixture=DS + "statistics__a_split_nyu_mll_glue_with_a_string_"
                             "text_column.json", query={"split": "test"}),
    }


async def test_inspect_end_to_end(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(imdb_routes())
    ctx = make_ctx(tmp_path, datasets_server_url=server.url)
    result = await run_tool(Datasets(), ctx, operation="inspect", dataset="nyu-mll/glue",
                            rows=2)
    text = result.text
    assert result.data == {"dataset": "nyu-mll/glue", "config": "ax", "split": "test"}
    assert "Viewer capabilities: preview=yes, viewer=yes, search=yes" in text
    assert "Configs (1): ax: test" in text
    assert "| ax | test | 1,104 |" in text or "| ax | test | 1104 |" in text
    assert "- label: ClassLabel(3: entailment, neutral, contradiction)" in text
    assert "- idx: int32" in text
    # First rows come from the imdb example body: two rows, long cells cut.
    assert text.count("I rented I AM CURIOUS-YELLOW") == 1
    assert "### Column statistics of ax/test" in text and "| hypothesis | string_text |" in text
    paths = {r.path for r in server.requests}
    assert paths == {"/is-valid", "/splits", "/info", "/size", "/first-rows", "/statistics"}
    assert all(r.query["dataset"] == "nyu-mll/glue" for r in server.requests)


async def test_inspect_lists_failed_parts(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    routes = imdb_routes()
    routes["/statistics"] = Route(status=501, fixture=DS + "error_501_blocked_dataset.json")
    server = serve(routes)
    ctx = make_ctx(tmp_path, datasets_server_url=server.url)
    result = await run_tool(Datasets(), ctx, operation="inspect", dataset="nyu-mll/glue")
    assert result.ok and "Not available: statistics:" in result.text
    assert "parquet conversion has been disabled" in result.text


async def test_missing_dataset_gives_clear_error(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    error = DS + "error_401_inexistent_dataset_and_not_authenticated.json"
    server = serve({"/splits": Route(status=401, fixture=error),
                    "/is-valid": Route(status=401, fixture=error)})
    ctx = make_ctx(tmp_path, datasets_server_url=server.url)
    with pytest.raises(ToolError) as info:
        await run_tool(Datasets(), ctx, operation="inspect", dataset="nobody/nothing")
    message = str(info.value)
    assert "does not exist, or is not accessible" in message
    assert "HF_TOKEN" in message


async def test_unknown_split_is_named(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(imdb_routes())
    ctx = make_ctx(tmp_path, datasets_server_url=server.url)
    with pytest.raises(ToolError, match=r"split 'train' not in config 'ax'; splits are \['test'\]"):
        await run_tool(Datasets(), ctx, operation="inspect", dataset="nyu-mll/glue",
                       split="train")


def test_statistics_and_features_parse_documented_bodies() -> None:
    import json

    from fixture_server import load_fixture

    mnist = json.loads(
        load_fixture(DS + "statistics__a_split_ylecun_mnist_with_a_label_column.json"))
    (label,) = parse_statistics(mnist)
    assert label.type == "class_label" and label.nan_proportion == 0.0
    assert label.summary.startswith("10 values: 1: 6742, 7: 6265")
    wine = json.loads(load_fixture(DS + "statistics__a_split_mstz_wine_with_numeric_columns.json"))
    numeric = parse_statistics(wine)[0]
    assert "min=" in numeric.summary and "mean=" in numeric.summary
    # The viewer sends "List" (not "Sequence") for lists.
    assert describe_feature({"_type": "List", "feature": {"dtype": "string", "_type": "Value"}}) \
        == "list[string]"
