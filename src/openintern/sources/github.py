"""GitHub REST API: code search, file reading, repository trees, example finding.

Endpoints (relative to ``github_api_url``): ``/search/code`` (GitHub requires a token for
code search), ``/repos/{owner}/{repo}/contents/{path}`` (base64 ``content``, wrapped every
60 characters; directories come back as a list), ``/repos/{owner}/{repo}/git/trees/{ref}
?recursive=1``. Files over 1 MB come without content: their ``download_url`` (another host,
fetched without the token) is read instead.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from openintern.http import ServiceClient

_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
_TEXT_MATCH = {"Accept": "application/vnd.github.text-match+json",
               "X-GitHub-Api-Version": "2022-11-28"}
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
EXAMPLE_DIRS = ("examples", "example", "scripts", "notebooks", "recipes", "tutorials",
                "demo", "demos", "cookbook")
EXAMPLE_SUFFIXES = (".py", ".ipynb", ".sh", ".md", ".yaml", ".yml", ".json", ".toml")


class GitHubError(Exception):
    """A GitHub request could not be answered; the message says what to do."""


class GitHubTokenRequired(GitHubError):
    """The operation needs a GitHub token and none is configured."""


@dataclass
class CodeHit:
    """One code-search hit."""

    repo: str
    path: str
    url: str
    fragments: list[str] = field(default_factory=list)


@dataclass
class TreeEntry:
    """One blob or tree of a repository tree."""

    path: str
    type: str
    size: int | None


@dataclass
class RepoContent:
    """A file's text, or a directory's entries."""

    path: str
    text: str | None = None
    entries: list[TreeEntry] = field(default_factory=list)
    size: int | None = None
    html_url: str | None = None


def check_repo(repo: str) -> str:
    """``owner/name`` or a GitHubError saying the expected form."""
    repo = repo.strip().strip("/")
    if repo.startswith(("https://github.com/", "http://github.com/")):
        repo = "/".join(repo.split("/")[3:5])
    if not _REPO.match(repo):
        raise GitHubError(f"{repo!r} is not a repository; use 'owner/name'")
    return repo


def parse_code_search(data: dict[str, Any]) -> tuple[int, list[CodeHit]]:
    """Total count and hits of a ``/search/code`` body (fragments from text_matches)."""
    hits = []
    for item in data.get("items") or []:
        repository = item.get("repository") or {}
        fragments = [str(m.get("fragment")) for m in item.get("text_matches") or []
                     if m.get("fragment")]
        hits.append(CodeHit(
            repo=str(repository.get("full_name") or ""),
            path=str(item.get("path") or ""),
            url=str(item.get("html_url") or ""),
            fragments=fragments,
        ))
    return int(data.get("total_count") or 0), hits


def decode_content(item: dict[str, Any]) -> str | None:
    """The text of a contents-API file object (None when GitHub left content out)."""
    content = item.get("content")
    if not content:
        return None
    if item.get("encoding") == "base64":
        raw = base64.b64decode("".join(str(content).split()))
        return raw.decode("utf-8", errors="replace")
    return str(content)


def rank_examples(entries: list[TreeEntry], keyword: str, limit: int) -> list[TreeEntry]:
    """Example/script/notebook files whose path matches every word of ``keyword``.

    Files inside an example-like folder rank first; a word in the file name counts more
    than one in a folder name; shorter paths break ties.
    """
    words = [w.lower() for w in re.split(r"[\s,]+", keyword) if w]
    scored = []
    for entry in entries:
        if entry.type != "blob" or not entry.path.lower().endswith(EXAMPLE_SUFFIXES):
            continue
        lower = entry.path.lower()
        parts = lower.split("/")
        in_examples = any(p in EXAMPLE_DIRS for p in parts[:-1])
        is_notebook = lower.endswith(".ipynb")
        if not (in_examples or is_notebook):
            continue
        if not all(w in lower for w in words):
            continue
        name_hits = sum(w in parts[-1] for w in words)
        scored.append((-name_hits, not lower.endswith((".py", ".ipynb")), len(parts),
                       len(lower), entry))
    scored.sort(key=lambda t: (*t[:4], t[4].path))
    return [t[4] for t in scored[:limit]]


class GitHubClient:
    """Typed access to the GitHub REST API over a :class:`ServiceClient`."""

    def __init__(self, client: ServiceClient, *, has_token: bool) -> None:
        self.client = client
        self.has_token = has_token

    async def search_code(
        self, query: str, *, repo: str | None = None, language: str | None = None,
        path: str | None = None, limit: int = 10,
    ) -> tuple[int, list[CodeHit]]:
        """Code search with GitHub's query syntax plus optional qualifiers."""
        if not self.has_token:
            raise GitHubTokenRequired(
                "GitHub code search needs a token: set GITHUB_TOKEN (or github_token in the "
                "config file). Without one, use find_examples or read_file on a known repo."
            )
        q = query.strip()
        if repo:
            q += f" repo:{check_repo(repo)}"
        if language:
            q += f" language:{language}"
        if path:
            q += f" path:{path}"
        data = await self.client.get_json(
            "/search/code", {"q": q, "per_page": min(max(limit, 1), 100)}, headers=_TEXT_MATCH
        )
        if not isinstance(data, dict):
            raise GitHubError(f"unexpected GitHub search answer: {str(data)[:200]}")
        return parse_code_search(data)

    async def read(self, repo: str, path: str, *, ref: str | None = None) -> RepoContent:
        """A file's text or a directory listing."""
        repo = check_repo(repo)
        clean = path.strip().strip("/")
        url = f"/repos/{repo}/contents/{quote(clean)}" if clean else f"/repos/{repo}/contents"
        data = await self.client.get_json(url, {"ref": ref} if ref else None, headers=_HEADERS)
        if isinstance(data, list):
            entries = [TreeEntry(path=str(e.get("path")),
                                 type="tree" if e.get("type") == "dir" else "blob",
                                 size=e.get("size")) for e in data if isinstance(e, dict)]
            return RepoContent(path=clean, entries=entries)
        if not isinstance(data, dict):
            raise GitHubError(f"unexpected GitHub contents answer: {str(data)[:200]}")
        if data.get("type") not in (None, "file"):
            raise GitHubError(f"{clean} is a {data.get('type')}, not a file or folder")
        text = decode_content(data)
        if text is None and data.get("download_url"):
            # Over 1 MB: GitHub sends no content; the raw host serves it (no token sent).
            text = await self.client.get_text(str(data["download_url"]))
        return RepoContent(path=str(data.get("path") or clean), text=text or "",
                           size=data.get("size"), html_url=data.get("html_url"))

    async def tree(self, repo: str, *, ref: str | None = None) -> tuple[list[TreeEntry], bool]:
        """Every path of the repository at ``ref`` (default branch) and a truncated flag."""
        repo = check_repo(repo)
        data = await self.client.get_json(
            f"/repos/{repo}/git/trees/{quote(ref or 'HEAD', safe='')}",
            {"recursive": "1"}, headers=_HEADERS,
        )
        if not isinstance(data, dict):
            raise GitHubError(f"unexpected GitHub tree answer: {str(data)[:200]}")
        entries = [TreeEntry(path=str(e.get("path")), type=str(e.get("type")), size=e.get("size"))
                   for e in data.get("tree") or [] if isinstance(e, dict)]
        return entries, bool(data.get("truncated"))

    async def find_examples(
        self, repo: str, keyword: str, *, ref: str | None = None, limit: int = 30
    ) -> tuple[list[TreeEntry], bool]:
        """Example scripts and notebooks of ``repo`` whose path matches ``keyword``."""
        entries, truncated = await self.tree(repo, ref=ref)
        return rank_examples(entries, keyword, limit), truncated
