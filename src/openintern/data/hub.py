"""Hugging Face Hub: search models and datasets, repo details, file listings, file reads.

Endpoints (relative to ``hf_endpoint``): ``/api/models?search=…``, ``/api/datasets?search=…``,
``/api/{models|datasets|spaces}/{repo_id}``, ``/api/{kind}s/{repo_id}/tree/{revision}/{path}``
and ``/{prefix}{repo_id}/resolve/{revision}/{path}`` for raw files (``prefix`` is empty for
models, ``datasets/`` or ``spaces/`` otherwise). Renamed repos answer a 307 that the
client follows; large files redirect to a CDN host that never receives the token.

Through ``ServiceClient`` rather than ``HfApi``: HfApi's list and info calls have no
cache, and here every Hub read gets the on-disk cache served stale when offline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from openintern.http import ServiceClient

RepoKind = Literal["model", "dataset", "space"]
_PREFIX: dict[str, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}


class HubError(Exception):
    """A Hub request could not be answered; the message says what to do."""


@dataclass
class RepoSummary:
    """One search hit (the fields the list endpoints send)."""

    id: str
    kind: RepoKind
    downloads: int | None
    likes: int | None
    pipeline_tag: str | None
    library: str | None
    tags: list[str]
    created_at: str | None
    last_modified: str | None
    disabled: bool = False  # the Hub disabled the repo: its files cannot be used

    @property
    def license(self) -> str | None:
        """The ``license:…`` tag, if any."""
        return _license_from_tags(self.tags)


@dataclass
class RepoInfo:
    """Details of one repo from ``/api/{kind}s/{id}``."""

    id: str
    kind: RepoKind
    author: str | None
    sha: str | None
    downloads: int | None
    likes: int | None
    pipeline_tag: str | None
    library: str | None
    license: str | None
    tags: list[str]
    gated: Any
    private: bool
    last_modified: str | None
    created_at: str | None
    parameters: int | None
    used_storage: int | None
    files: list[str]
    card_data: dict[str, Any]
    eval_results: list[str] = field(default_factory=list)
    disabled: bool = False  # the Hub disabled the repo: its files cannot be used

    def warnings(self) -> list[str]:
        """What the user must know before relying on this repo."""
        out = []
        if self.disabled:
            out.append(f"this {self.kind} is DISABLED on the Hub (by its owner or the Hub "
                       "staff): its files cannot be downloaded; do not build on it, find "
                       "another one")
        if self.gated:
            out.append(f"this {self.kind} is gated ({self.gated}): downloading it needs an "
                       "accepted access request and HF_TOKEN")
        return out


@dataclass
class RepoFile:
    """An entry of a repo tree listing."""

    path: str
    type: str
    size: int | None


def _license_from_tags(tags: list[str]) -> str | None:
    for tag in tags:
        if tag.startswith("license:"):
            return tag.split(":", 1)[1]
    return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def parse_summary(item: dict[str, Any], kind: RepoKind) -> RepoSummary:
    """A list-endpoint item (``id`` is present; other fields may be absent)."""
    return RepoSummary(
        id=str(item.get("id") or item.get("modelId") or ""),
        kind=kind,
        downloads=_int(item.get("downloads")),
        likes=_int(item.get("likes")),
        pipeline_tag=_str(item.get("pipeline_tag")),
        library=_str(item.get("library_name")),
        tags=[str(t) for t in item.get("tags") or []],
        created_at=_str(item.get("createdAt")),
        last_modified=_str(item.get("lastModified")),
        disabled=item.get("disabled") is True,
    )


def _eval_results(card: dict[str, Any]) -> list[str]:
    """``model-index`` results as "dataset split: metric = value" lines."""
    lines = []
    for entry in card.get("model-index") or []:
        for result in (entry or {}).get("results") or []:
            dataset = (result.get("dataset") or {})
            where = f"{dataset.get('name') or dataset.get('type')} {dataset.get('split') or ''}"
            for metric in result.get("metrics") or []:
                name = metric.get("name") or metric.get("type")
                lines.append(f"{where.strip()}: {name} = {metric.get('value')}")
    return lines


def parse_info(data: dict[str, Any], kind: RepoKind) -> RepoInfo:
    """A repo-details body. Fields the Hub omits for a repo type come back as None/empty."""
    card = data.get("cardData") if isinstance(data.get("cardData"), dict) else {}
    tags = [str(t) for t in data.get("tags") or []]
    license_value = card.get("license") if card else None
    if isinstance(license_value, list):
        license_value = ", ".join(str(v) for v in license_value)
    safetensors = data.get("safetensors") if isinstance(data.get("safetensors"), dict) else {}
    return RepoInfo(
        id=str(data.get("id") or data.get("modelId") or ""),
        kind=kind,
        author=_str(data.get("author")),
        sha=_str(data.get("sha")),
        downloads=_int(data.get("downloads")),
        likes=_int(data.get("likes")),
        pipeline_tag=_str(data.get("pipeline_tag")),
        library=_str(data.get("library_name")),
        license=_str(license_value) or _license_from_tags(tags),
        tags=tags,
        gated=data.get("gated"),
        private=bool(data.get("private")),
        last_modified=_str(data.get("lastModified")),
        created_at=_str(data.get("createdAt")),
        parameters=_int((safetensors or {}).get("total")),
        used_storage=_int(data.get("usedStorage")),
        files=[str(s.get("rfilename")) for s in data.get("siblings") or [] if s.get("rfilename")],
        card_data=card or {},
        eval_results=_eval_results(card or {}),
        disabled=data.get("disabled") is True,
    )


def strip_front_matter(markdown: str) -> str:
    """A model card without its YAML metadata block."""
    if markdown.startswith("---"):
        end = markdown.find("\n---", 3)
        if end != -1:
            return markdown[end + 4 :].lstrip("\n")
    return markdown


class HubClient:
    """Typed access to the Hub API over a :class:`ServiceClient`."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def search(
        self,
        kind: RepoKind,
        query: str | None = None,
        *,
        sort: str = "downloads",
        filter: str | None = None,
        author: str | None = None,
        limit: int = 20,
    ) -> list[RepoSummary]:
        """Search models or datasets, sorted descending by ``sort``."""
        if kind == "space":
            raise HubError("searching spaces is not supported; search models or datasets")
        params: dict[str, Any] = {"sort": sort, "direction": -1, "limit": limit}
        if query:
            params["search"] = query
        if filter:
            params["filter"] = filter
        if author:
            params["author"] = author
        data = await self.client.get_json(f"/api/{kind}s", params)
        if not isinstance(data, list):
            raise HubError(f"unexpected Hub search answer (not a list): {str(data)[:200]}")
        return [parse_summary(item, kind) for item in data if isinstance(item, dict)]

    async def info(self, kind: RepoKind, repo_id: str) -> RepoInfo:
        """Details of a repo."""
        data = await self.client.get_json(f"/api/{kind}s/{_repo_path(repo_id)}")
        if not isinstance(data, dict):
            raise HubError(f"unexpected Hub answer for {repo_id}: {str(data)[:200]}")
        return parse_info(data, kind)

    async def list_files(
        self, kind: RepoKind, repo_id: str, *, path: str = "", revision: str = "main",
        recursive: bool = False,
    ) -> list[RepoFile]:
        """Files and folders of a repo (one folder, or everything with ``recursive``)."""
        url = f"/api/{kind}s/{_repo_path(repo_id)}/tree/{quote(revision, safe='')}"
        if path.strip("/"):
            url += "/" + quote(path.strip("/"))
        data = await self.client.get_json(url, {"recursive": "true"} if recursive else None)
        if not isinstance(data, list):
            raise HubError(f"unexpected Hub tree answer for {repo_id}: {str(data)[:200]}")
        return [
            RepoFile(path=str(e.get("path")), type=str(e.get("type") or "file"),
                     size=_int((e.get("lfs") or {}).get("size") or e.get("size")))
            for e in data if isinstance(e, dict) and e.get("path")
        ]

    async def read_file(
        self, kind: RepoKind, repo_id: str, path: str, *, revision: str = "main"
    ) -> bytes:
        """The raw bytes of a file in a repo."""
        url = (f"/{_PREFIX[kind]}{_repo_path(repo_id)}/resolve/"
               f"{quote(revision, safe='')}/{quote(path.lstrip('/'))}")
        return await self.client.get_bytes(url)

    async def info_with_card(
        self, kind: RepoKind, repo_id: str
    ) -> tuple[RepoInfo, str | None]:
        """Details plus the README body (front matter removed; None when absent)."""
        info, card = await asyncio.gather(
            self.info(kind, repo_id),
            self.read_file(kind, repo_id, "README.md"),
            return_exceptions=True,
        )
        if isinstance(info, BaseException):
            raise info
        if isinstance(card, BaseException):
            # No README (404) or an unreadable one: the details alone are still useful.
            if not isinstance(card, Exception):
                raise card
            return info, None
        return info, strip_front_matter(card.decode("utf-8", errors="replace"))


def _repo_path(repo_id: str) -> str:
    """A repo id for a URL path: ``owner/name`` keeps its slash; nothing else escapes."""
    repo_id = repo_id.strip().strip("/")
    if not repo_id or repo_id.count("/") > 1 or ".." in repo_id:
        raise HubError(f"{repo_id!r} is not a Hub repo id; use 'owner/name' (or 'name')")
    return quote(repo_id, safe="/")
