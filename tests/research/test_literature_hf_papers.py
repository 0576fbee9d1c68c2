"""Hugging Face Papers client.

Only /api/daily_papers and /api/models have recorded bodies. /api/papers/search answers a
list of the same items as daily papers and /api/papers/{id} one paper object (the shapes
huggingface_hub's PaperInfo parses), so those routes serve the recorded daily-papers items.
"""

from __future__ import annotations

import json
from typing import Any

from fixture_server import Route, ServeFactory, load_fixture

from openintern.http import ServiceClient
from openintern.literature.hf_papers import HFPapersClient, parse_hf_paper


def daily() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(load_fixture("hub/daily_papers.json"))
    return data


def test_daily_items_parse() -> None:
    items = daily()
    papers = [parse_hf_paper(item) for item in items]
    assert len(papers) == 30 and all(p is not None for p in papers)
    first = papers[1]
    assert first is not None and first.arxiv_id == "2606.12730"
    assert first.github_repo == "https://github.com/psychology-of-AI/Rethinking-Pyschometric-Eval-LLMs"
    assert first.authors and first.title and first.summary and first.ai_keywords
    flat = parse_hf_paper(items[1]["paper"])
    assert flat is not None and flat.title == first.title


async def test_search_paper_daily_and_linked_models(serve: ServeFactory) -> None:
    items = daily()
    server = serve({
        "/api/papers/search": Route(body=items[:5]),
        "/api/papers/2606.12730": Route(body=items[1]["paper"]),
        "/api/daily_papers": Route(fixture="hub/daily_papers.json"),
        "/api/models": Route(fixture="hub/models_list.json",
                             query={"filter": "arxiv:2606.12730"}),
    })
    async with ServiceClient(service="huggingface", base_url=server.url, token="hf_x") as http:
        client = HFPapersClient(http)
        found = await client.search("psychometric", limit=3)
        paper = await client.paper("2606.12730")
        today = await client.daily(limit=10)
        models = await client.linked_repos("2606.12730", "model", limit=2)
    assert [p.arxiv_id for p in found] == [i["paper"]["id"] for i in items[:3]]
    assert server.requests[0].query["q"] == "psychometric"
    assert paper.title == items[1]["paper"]["title"] and paper.upvotes is not None
    assert len(today) == 10
    assert [m.repo_id for m in models] == ["deepseek-ai/DeepSeek-V4-Pro",
                                            json.loads(load_fixture("hub/models_list.json"))[1]["id"]]
    assert models[0].url == "https://huggingface.co/deepseek-ai/DeepSeek-V4-Pro"
    assert all(r.headers["authorization"] == "Bearer hf_x" for r in server.requests)
