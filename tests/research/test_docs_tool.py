"""The docs tool against local HTML pages.

GAP: no recorded Hugging Face docs page exists in tests/fixtures. The pages below are
written for the test in the shape the docs site serves: a sidebar <nav> of links to
/docs/{library}/{page} (some versioned or language-prefixed) and the page in <main>.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from data_fixtures import make_ctx, run_tool
from fixture_server import Route

from openintern.tools.base import ToolError
from openintern.tools.docs import Docs

INDEX = """<!doctype html><html><head><title>TRL</title><script>var x = 1;</script></head>
<body><nav>
<a href="/docs/trl/index">TRL</a>
<a href="/docs/trl/sft_trainer">SFT Trainer</a>
<a href="/docs/trl/main/en/dpo_trainer">DPO Trainer</a>
<a href="/docs/trl/v0.9.0/en/dpo_trainer">DPO Trainer</a>
<a href="/docs/trl/peft_integration">PEFT integration (LoRA)</a>
<a href="/docs/transformers/index">Transformers</a>
<a href="https://github.com/huggingface/trl">GitHub</a>
</nav><main><h1>TRL</h1><p>Train transformer language models with RL.</p></main></body></html>
"""

SFT_PAGE = """<!doctype html><html><head><title>SFT Trainer</title>
<style>.x{color:red}</style></head><body>
<nav><a href="/docs/trl/index">Home</a> <a href="/docs/trl/dpo_trainer">DPO</a></nav>
<main>
<h1>Supervised Fine-tuning Trainer</h1>
<p>SFT is the most common step in post-training.</p>
<h2>Quickstart</h2>
<p>Train with <code>SFTTrainer</code>:</p>
<pre><code>from trl import SFTTrainer
trainer = SFTTrainer(model="Qwen/Qwen3-0.6B", train_dataset=dataset)
trainer.train()</code></pre>
<h2>Packing</h2>
<p>Set <strong>packing=True</strong> in <code>SFTConfig</code> to pack sequences.</p>
<ul><li>faster</li><li>less padding</li></ul>
</main><footer>Footer links</footer><script>track()</script></body></html>
"""


@pytest.fixture
def docs_server(serve):  # type: ignore[no-untyped-def]
    return serve({
        "/docs/trl/index": Route(body=INDEX, content_type="text/html; charset=utf-8"),
        "/docs/trl/sft_trainer": Route(body=SFT_PAGE, content_type="text/html; charset=utf-8"),
    })


async def test_search_ranks_sidebar_titles(tmp_path: Path, docs_server) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(tmp_path, hf_endpoint=docs_server.url, hf_token="hf_secret")
    result = await run_tool(Docs(), ctx, operation="search", library="trl", query="dpo trainer")
    # The versioned and language-prefixed copies collapse into one page.
    assert result.data["pages"][0] == "dpo_trainer"
    assert result.data["pages"].count("dpo_trainer") == 1
    assert "transformers" not in " ".join(result.data["pages"])
    lora = await run_tool(Docs(), ctx, operation="search", library="trl", query="lora")
    assert lora.data["pages"] == ["peft_integration"]
    # Docs are public: the HF token is never sent, even to the Hub host.
    assert all("authorization" not in r.headers for r in docs_server.requests)


async def test_fetch_page_as_markdown(tmp_path: Path, docs_server) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(tmp_path, hf_endpoint=docs_server.url)
    result = await run_tool(Docs(), ctx, operation="fetch", library="trl", page="sft_trainer")
    text = result.text
    assert text.startswith("# SFT Trainer\nSource: http://127.0.0.1")
    assert "# Supervised Fine-tuning Trainer" in text and "## Packing" in text
    assert "trainer.train()" in text and "**packing=True**" in text
    assert "- faster" in text
    for noise in ("Footer links", "track()", "color:red", "DPO"):
        assert noise not in text
    section = await run_tool(Docs(), ctx, operation="fetch", library="trl",
                             page="sft_trainer", section="packing")
    assert "## Packing" in section.text and "Quickstart" not in section.text


async def test_fetch_long_page_is_cut_with_contents(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    sections = "".join(f"<h2>Part {i}</h2><p>{'word ' * 200}</p>" for i in range(20))
    server = serve({"/docs/peft/long": Route(body=f"<html><main>{sections}</main></html>",
                                             content_type="text/html")})
    ctx = make_ctx(tmp_path, hf_endpoint=server.url)
    result = await run_tool(Docs(), ctx, operation="fetch", library="peft", page="long",
                            max_chars=3000)
    assert "truncated: showing" in result.text and "section='<heading words>'" in result.text
    assert "- Part 19" in result.text  # the table of contents lists every section


async def test_errors(tmp_path: Path, docs_server) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(tmp_path, hf_endpoint=docs_server.url)
    with pytest.raises(ToolError, match="HTTP 404"):
        await run_tool(Docs(), ctx, operation="fetch", library="trl", page="no_such_page")
    with pytest.raises(ToolError, match="not a docs page path"):
        await run_tool(Docs(), ctx, operation="fetch", library="trl", page="../../etc")
    with pytest.raises(ToolError, match="no section"):
        await run_tool(Docs(), ctx, operation="fetch", library="trl", page="sft_trainer",
                       section="quantization")
