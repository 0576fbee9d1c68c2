"""Literature access: arXiv, Semantic Scholar, Hugging Face Papers and full text.

:func:`literature_clients` builds every client from :class:`~openintern.config.Settings`
(base URLs, tokens, timeouts, cache lifetime) with polite request spacing per service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from openintern.http import DiskCache, ServiceClient
from openintern.literature.arxiv import ArxivClient
from openintern.literature.fulltext import FullTextReader
from openintern.literature.hf_papers import HFPapersClient
from openintern.literature.semantic_scholar import SemanticScholarClient

if TYPE_CHECKING:
    from openintern.config import Settings

# Seconds between requests to one service. arXiv's API terms ask for one request every
# three seconds; Semantic Scholar allows about one per second (anonymous callers share a
# pool, keys start at 1 rps).
ARXIV_API_INTERVAL_S = 3.0
ARXIV_WEB_INTERVAL_S = 1.0
SEMANTIC_SCHOLAR_INTERVAL_S = 1.0


@dataclass
class LiteratureClients:
    """The literature clients a tool needs, sharing one disk cache."""

    arxiv: ArxivClient
    semantic_scholar: SemanticScholarClient
    hf_papers: HFPapersClient
    fulltext: FullTextReader

    async def aclose(self) -> None:
        """Close every connection pool."""
        for http in (self.arxiv.http, self.semantic_scholar.http, self.hf_papers.http,
                     self.fulltext.http):
            await http.aclose()


def literature_clients(
    settings: Settings, *, cache: DiskCache | None = None, polite: bool = True
) -> LiteratureClients:
    """Clients for every literature service, configured from ``settings``.

    ``cache`` defaults to the on-disk cache in the data directory; ``polite=False`` drops
    the request spacing (for local mirrors and tests).
    """
    disk = cache if cache is not None else DiskCache()

    def client(
        service: str,
        base_url: str,
        interval: float,
        token: str | None = None,
        token_header: str = "Authorization",
        token_prefix: str = "Bearer ",
    ) -> ServiceClient:
        return ServiceClient(
            service=service, base_url=base_url, token=token, token_header=token_header,
            token_prefix=token_prefix, timeout_s=settings.http_timeout_s, cache=disk,
            cache_ttl_s=settings.cache_ttl_s, min_interval_s=interval if polite else 0.0,
        )

    s2_key = settings.semantic_scholar_api_key
    hf_token = settings.hf_token
    return LiteratureClients(
        arxiv=ArxivClient(client("arxiv", settings.arxiv_api_url, ARXIV_API_INTERVAL_S)),
        semantic_scholar=SemanticScholarClient(client(
            "semantic-scholar", settings.semantic_scholar_url, SEMANTIC_SCHOLAR_INTERVAL_S,
            token=s2_key.get_secret_value() if s2_key else None,
            token_header="x-api-key", token_prefix="",
        )),
        hf_papers=HFPapersClient(client(
            "huggingface", settings.hf_endpoint, 0.0,
            token=hf_token.get_secret_value() if hf_token else None,
        )),
        fulltext=FullTextReader(client("arxiv-web", settings.arxiv_web_url,
                                       ARXIV_WEB_INTERVAL_S)),
    )


__all__ = [
    "ArxivClient",
    "FullTextReader",
    "HFPapersClient",
    "LiteratureClients",
    "SemanticScholarClient",
    "literature_clients",
]
