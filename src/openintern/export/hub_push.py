"""Push an exported trace to a private Hugging Face dataset (only ever after approval)."""

from __future__ import annotations

from openintern.config import Settings


class ExportError(RuntimeError):
    """An export or push cannot be done; the message says what to do."""


def push_trace(data: bytes, filename: str, repo_id: str, settings: Settings) -> str:
    """Upload ``data`` as ``traces/<filename>`` to the private dataset ``repo_id``
    (created private when missing; refused when it exists and is public). Returns the
    commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    if settings.hf_token is None:
        raise ExportError("pushing to the Hub needs a token: set HF_TOKEN (write access)")
    api = HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token.get_secret_value())
    try:
        api.create_repo(repo_id, repo_type="dataset", private=True, exist_ok=True)
        info = api.repo_info(repo_id, repo_type="dataset")
        if not info.private:
            raise ExportError(f"the dataset {repo_id} is public; traces go only to a private "
                              "dataset: choose another name or make it private first")
        commit = api.upload_file(path_or_fileobj=data, path_in_repo=f"traces/{filename}",
                                 repo_id=repo_id, repo_type="dataset",
                                 commit_message=f"Add OpenIntern trace {filename}")
    except HfHubHTTPError as exc:
        raise ExportError(f"the Hub refused the upload: {exc}") from None
    return str(commit.commit_url)
