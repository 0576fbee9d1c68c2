"""A stand-in for the Hub endpoints a dataset upload uses, on 127.0.0.1.

No recording of these exchanges exists (tests/fixtures/SOURCES.md); their shapes follow
what ``huggingface_hub`` (``HfApi.create_repo``, ``repo_info``, ``upload_file``) sends and
parses: ``POST /api/repos/create`` (``{"name", "organization", "visibility", "type"}``) ->
``{"url"}`` (409 with ``{"error", "url"}`` when it exists), ``GET
/api/datasets/<id>`` -> ``{"id", "private", "sha"}``, ``POST .../preupload/<rev>`` ->
``{"files": [{"path", "uploadMode", "shouldIgnore"}]}``, ``POST .../commit/<rev>`` (NDJSON,
small files inline as base64) -> ``{"commitUrl", "commitOid"}``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HubRepo:
    """A dataset repository the fake Hub holds."""

    private: bool
    files: dict[str, bytes] = field(default_factory=dict)


class FakeHub:
    """The fake Hub: ``repos`` by id, ``requests`` as (method, path, authorization)."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _record(self) -> bytes:
                hub.requests.append((self.command, self.path,
                                     self.headers.get("authorization", "")))
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length)

            def do_GET(self) -> None:
                self._record()
                parts = self.path.split("?")[0].split("/")
                repo_id = "/".join(parts[3:5])
                repo = hub.repos.get(repo_id)
                if parts[1:3] != ["api", "datasets"] or repo is None:
                    self._answer(404, {"error": "Repository not found"})
                    return
                self._answer(200, {"id": repo_id, "private": repo.private, "sha": "0" * 40})

            def do_POST(self) -> None:
                body = self._record()
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo_id = f"{request.get('organization') or 'me'}/{request['name']}"
                    if repo_id in hub.repos:
                        # huggingface_hub reads the url from the 409 too (exist_ok).
                        self._answer(409, {"error": "You already created this dataset repo",
                                           "url": f"{hub.url}/datasets/{repo_id}"})
                        return
                    # huggingface_hub >= 1 sends "visibility"; older ones sent "private".
                    private = request.get("visibility", "private" if request.get("private")
                                          else "public") != "public"
                    hub.repos[repo_id] = HubRepo(private=private)
                    self._answer(200, {"url": f"{hub.url}/datasets/{repo_id}"})
                    return
                parts = path.split("/")
                repo_id = "/".join(parts[3:5])
                if len(parts) > 5 and parts[5] == "preupload":
                    files = json.loads(body)["files"]
                    self._answer(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                  "shouldIgnore": False} for f in files]})
                    return
                if len(parts) > 5 and parts[5] == "commit":
                    for line in body.splitlines():
                        item = json.loads(line)
                        if item.get("key") == "file":
                            value = item["value"]
                            hub.repos[repo_id].files[value["path"]] = base64.b64decode(
                                value["content"])
                    commit = f"{hub.url}/datasets/{repo_id}/commit/{'1' * 40}"
                    self._answer(200, {"commitUrl": commit,
                                       "commitOid": "1" * 40})
                    return
                self._answer(404, {"error": f"no route {path}"})

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
