"""The ``push_to_hub`` tool: publish a trained model or a dataset to the Hugging Face Hub.

Always asks the user first (publishing is irreversible) and creates the repo private
unless told otherwise. The token goes only to ``settings.hf_endpoint``.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field

from openintern.tools.base import Tool, ToolContext, ToolError, ToolResult


class PushParams(BaseModel):
    """Arguments of the push_to_hub tool."""

    path: str = Field(description="Folder (model checkpoint, dataset) or file to upload.")
    repo_id: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$",
                         description="Target repo, e.g. user/my-model.")
    repo_type: Literal["model", "dataset"] = "model"
    private: bool = Field(True, description="Private repo (default).")
    commit_message: str = Field("Upload from OpenIntern", max_length=200)


class PushToHub(Tool[PushParams]):
    """Upload a model folder or dataset to the Hugging Face Hub (needs the user's
    approval; the repo is private unless private=false)."""

    name = "push_to_hub"
    needs_approval = True

    def approval_reason(self, params: PushParams, ctx: ToolContext) -> str | None:
        """Publishing always needs approval, and says what becomes visible to whom."""
        who = "private" if params.private else "PUBLIC (anyone can download it)"
        return f"upload {params.path} to the Hub as {params.repo_type} {params.repo_id} ({who})"

    async def run(self, params: PushParams, ctx: ToolContext) -> ToolResult:
        """Create the repo (if needed) and upload."""
        source = ctx.resolve_path(params.path)
        if not source.exists():
            raise ToolError(f"{params.path} does not exist in the workspace")
        token = ctx.settings.hf_token
        if token is None or not token.get_secret_value():
            raise ToolError("no Hugging Face token: set HF_TOKEN (a write token) and retry")
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi(endpoint=ctx.settings.hf_endpoint, token=token.get_secret_value())

        def push() -> str:
            api.create_repo(params.repo_id, repo_type=params.repo_type,
                            private=params.private, exist_ok=True)
            if source.is_dir():
                info = api.upload_folder(folder_path=str(source), repo_id=params.repo_id,
                                         repo_type=params.repo_type,
                                         commit_message=params.commit_message)
            else:
                info = api.upload_file(path_or_fileobj=str(source),
                                       path_in_repo=source.name, repo_id=params.repo_id,
                                       repo_type=params.repo_type,
                                       commit_message=params.commit_message)
            return str(getattr(info, "commit_url", info))

        try:
            url = await asyncio.to_thread(push)
        except (HfHubHTTPError, OSError, ValueError) as exc:
            raise ToolError(f"upload to {params.repo_id} failed: {exc}") from None
        visibility = "private" if params.private else "public"
        return ToolResult(f"Uploaded {params.path} to {params.repo_id} ({visibility}): {url}",
                          data={"repo_id": params.repo_id, "url": url,
                                "private": params.private})
