"""End-to-end research session through the `intern` command.

The model's turns are scripted; everything else is real: the CLI subprocess, the papers and
datasets tools, their HTTP clients and disk cache, and four fixture servers on 127.0.0.1
(arXiv API + web, Semantic Scholar, the Hugging Face Hub, the dataset viewer) replaying the
recorded bodies in ``tests/fixtures``. The agent searches papers, walks citations with a
year/citation filter, reads a paper's table of contents and its method section, inspects a
Hub dataset, and audits a local CSV dataset with a planted train/test leak.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from e2e_helpers import intern_env, run_intern, store

from openintern.llm.script import Script, Step
from openintern.llm.scripted import ScriptedServer

# The research tool tests keep the fixture server and the fixture-derived bodies.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))

from fixture_server import FixtureServer, Route
from test_literature_semantic_scholar import citing_page
from test_papers_tool import arxiv_entries, hf_search_body, s2_search_body

LATEXML_PAGE = Path(__file__).resolve().parents[1] / "research" / "latexml_page.html"
DS = "datasets_server/"
HF_TOKEN = "hf_" + "E2e" * 12

TRAIN_CSV = """id,text,label
1,The movie was great,pos
2,Terrible plot and acting,neg
3,An instant classic,pos
4,Loved every minute,pos
5,A waste of time,neg
6,Beautiful photography,pos
"""
# Test row 101 copies train row 2 exactly; 102 is train row 5 after case/punctuation.
TEST_CSV = """id,text,label
101,Terrible plot and acting,neg
102,"a WASTE of time.",neg
103,Fresh unseen review,pos
"""


def _call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


STEPS: list[Step | dict[str, Any]] = [
    {"text": "Searching the literature.",
     "tool_calls": [_call("papers", operation="search", query="transformer", limit=5)]},
    {"tool_calls": [_call("papers", operation="citations", paper="2312.07559",
                          min_citations=1, year_min=2010, sort="citations")]},
    {"tool_calls": [_call("papers", operation="read", paper="2401.00001")]},
    {"tool_calls": [_call("papers", operation="read", paper="2401.00001", section="method")]},
    {"tool_calls": [_call("datasets", operation="inspect", dataset="nyu-mll/glue", rows=2)]},
    {"tool_calls": [_call("datasets", operation="audit", path="data")]},
    {"text": "Review done: the local split leaks two test rows into train."},
]


def _servers() -> dict[str, FixtureServer]:
    return {
        "arxiv": FixtureServer({
            "/api/query": Route(fixture="arxiv/query_search_sorted_by_date.atom.xml"),
            "/html/2401.00001": Route(body=LATEXML_PAGE.read_text(encoding="utf-8"),
                                      content_type="text/html; charset=utf-8"),
        }),
        "s2": FixtureServer({
            "/graph/v1/paper/search": Route(body=s2_search_body()),
            "/graph/v1/paper/arXiv:2312.07559/citations": Route(body=citing_page()),
        }),
        "hf": FixtureServer({"/api/papers/search": Route(body=hf_search_body())}),
        "viewer": FixtureServer({
            "/is-valid": Route(fixture=DS + "is_valid__all_the_capabilities.json"),
            "/splits": Route(body={"splits": [{"dataset": "nyu-mll/glue", "config": "ax",
                                               "split": "test"}], "pending": [], "failed": []}),
            "/info": Route(fixture=DS + "info__config_metadata.json"),
            "/size": Route(fixture=DS + "size__config_size.json"),
            "/first-rows": Route(fixture=DS + "first_rows__a_simple_dataset_stanfordnlp_"
                                 "stanfordnlp_imdb_with.json"),
            "/statistics": Route(fixture=DS + "statistics__a_split_nyu_mll_glue_with_a_"
                                 "string_text_column.json"),
        }),
    }


def _tool_result(request: dict[str, Any]) -> str:
    """The newest tool message of a request to the model."""
    content = [m for m in request["messages"] if m["role"] == "tool"][-1]["content"]
    assert isinstance(content, str)
    return content


def test_research_session_reads_papers_and_audits_data(workspace: Path) -> None:
    data = workspace / "data"
    data.mkdir()
    (data / "train.csv").write_text(TRAIN_CSV)
    (data / "test.csv").write_text(TEST_CSV)
    servers = _servers()
    for server in servers.values():
        server.start()
    try:
        with ScriptedServer(Script.from_steps(STEPS)) as model:
            env = intern_env(
                model.base_url,
                OPENINTERN_ARXIV_API_URL=f"{servers['arxiv'].url}/api/query",
                OPENINTERN_ARXIV_WEB_URL=servers["arxiv"].url,
                OPENINTERN_SEMANTIC_SCHOLAR_URL=servers["s2"].url,
                OPENINTERN_HF_ENDPOINT=servers["hf"].url,
                OPENINTERN_DATASETS_SERVER_URL=servers["viewer"].url,
                HF_TOKEN=HF_TOKEN,
            )
            env.pop("SEMANTIC_SCHOLAR_API_KEY", None)
            env.pop("OPENINTERN_SEMANTIC_SCHOLAR_API_KEY", None)
            result = run_intern("survey transformers and check the data", env=env,
                                cwd=workspace, timeout=120)
            sent = model.requests
    finally:
        for server in servers.values():
            server.stop()

    assert result.code == 0, result.output
    assert "the local split leaks two test rows" in result.output
    assert len(sent) == len(STEPS)
    search, citations, toc, method, inspect, audit = (_tool_result(r) for r in sent[1:])

    # Search: merged from three services; the two papers two services know rank first.
    titles = arxiv_entries()
    assert search.startswith("Papers for 'transformer'")
    assert titles["2606.13677"] in search and titles["2606.13591"] in search
    assert "id=arXiv:2606.13677" in search and "of about 360715" in search
    # Citations: only the citing papers from 2010 on with at least one citation, by count.
    assert "Citations of arXiv:2312.07559 (2 match of 4 fetched)" in citations
    miracle = citations.index("The Miracle of Microfinance? Evidence from a Randomized")
    assert miracle < citations.index("Learning to Throw With a Handful of Samples")
    # Full text: the table of contents, then the method section with its subsection.
    assert "Counting Widgets with $k$-Means" in toc and "full text from HTML" in toc
    assert "2 Methodology" in toc and "2.1 Data" in toc and "3 Experimental Results" in toc
    assert "We minimise $\\sum_{i}\\|x_{i}-\\mu\\|^{2}$ over centres." in method
    assert "1,000 widget photos" in method and "Widgets are everywhere" not in method
    # Dataset viewer: configs, features with class names, first rows, statistics.
    assert "Configs (1): ax: test" in inspect
    assert "- label: ClassLabel(3: entailment, neutral, contradiction)" in inspect
    assert "I rented I AM CURIOUS-YELLOW" in inspect and "| hypothesis | string_text |" in inspect
    # Local audit: the planted leak, one exact copy and one normalised copy.
    assert "LEAKAGE: 2 of 3 test rows" in audit and "(1 exact, 1 only after normalisation)" in audit
    assert "| train → test | 1 (33.3%) | 2 (66.7%) |" in audit

    # Each service got exactly the calls the session needed (the second read is cached).
    arxiv, s2, hf, viewer = (servers[k] for k in ("arxiv", "s2", "hf", "viewer"))
    assert [(r.path, r.query.get("search_query")) for r in arxiv.requests] == [
        ("/api/query", "all:transformer"), ("/html/2401.00001", None)]
    assert [r.path for r in s2.requests] == [
        "/graph/v1/paper/search", "/graph/v1/paper/arXiv:2312.07559/citations"]
    assert s2.requests[0].query["query"] == "transformer"
    assert [r.path for r in hf.requests] == ["/api/papers/search"]
    assert {r.path for r in viewer.requests} == {
        "/is-valid", "/splits", "/info", "/size", "/first-rows", "/statistics"}
    assert all(r.query["dataset"] == "nyu-mll/glue" for r in viewer.requests)
    # The Hugging Face token reached only the Hugging Face hosts.
    for request in [*hf.requests, *viewer.requests]:
        assert request.headers.get("authorization") == f"Bearer {HF_TOKEN}"
    for request in [*arxiv.requests, *s2.requests]:
        assert "authorization" not in request.headers and "x-api-key" not in request.headers
        assert HF_TOKEN not in str(request.headers)
    assert all(HF_TOKEN not in str(m) for r in sent for m in r["messages"])

    [session] = store().list_sessions()
    assert session.status == "idle" and session.iterations == len(STEPS)
