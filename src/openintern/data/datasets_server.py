"""The Hugging Face dataset viewer API (datasets-server): configs, splits, sizes,
features, first rows and column statistics of a Hub dataset, without downloading it.

Endpoints (relative to ``datasets_server_url``): ``/is-valid``, ``/splits``, ``/info``,
``/size``, ``/first-rows``, ``/statistics``; each takes ``dataset`` (+ ``config``, ``split``).
Errors come as ``{"error": "..."}``; a 401/404 means "missing, private or gated".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from openintern.http import ServiceClient, ServiceError


@dataclass
class SplitSize:
    """Rows and bytes of one config/split."""

    config: str
    split: str
    rows: int | None
    columns: int | None
    parquet_bytes: int | None


@dataclass
class ColumnStatistics:
    """One column's statistics from ``/statistics``."""

    name: str
    type: str
    nan_proportion: float | None
    summary: str


@dataclass
class DatasetInspection:
    """What the viewer knows about a dataset; ``problems`` lists parts that failed."""

    dataset: str
    capabilities: dict[str, bool] = field(default_factory=dict)
    splits: list[tuple[str, str]] = field(default_factory=list)
    config: str | None = None
    split: str | None = None
    sizes: list[SplitSize] = field(default_factory=list)
    description: str = ""
    license: str = ""
    features: dict[str, str] = field(default_factory=dict)
    first_rows: list[dict[str, Any]] = field(default_factory=list)
    truncated_cells: int = 0
    statistics: list[ColumnStatistics] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def describe_feature(feature: Any) -> str:
    """A short type string for a ``datasets`` feature spec (Value, ClassLabel, List, …)."""
    if isinstance(feature, list):
        return f"list[{describe_feature(feature[0]) if feature else '?'}]"
    if not isinstance(feature, dict):
        return str(feature)
    kind = feature.get("_type")
    if kind == "Value":
        return str(feature.get("dtype"))
    if kind == "ClassLabel":
        names = feature.get("names") or []
        shown = ", ".join(str(n) for n in names[:8]) + (", …" if len(names) > 8 else "")
        return f"ClassLabel({len(names)}: {shown})"
    if kind in ("List", "Sequence", "LargeList"):
        return f"list[{describe_feature(feature.get('feature'))}]"
    if kind:
        return str(kind)
    # A dict without _type is a struct of named sub-features.
    return "{" + ", ".join(f"{k}: {describe_feature(v)}" for k, v in feature.items()) + "}"


def _summarise_stats(kind: str, stats: dict[str, Any]) -> str:
    if "frequencies" in stats and isinstance(stats["frequencies"], dict):
        items = sorted(stats["frequencies"].items(), key=lambda kv: -int(kv[1]))
        shown = ", ".join(f"{k}: {v}" for k, v in items[:10])
        more = f", … {len(items) - 10} more" if len(items) > 10 else ""
        return f"{stats.get('n_unique', len(items))} values: {shown}{more}"
    keys = [k for k in ("min", "max", "mean", "median", "std") if stats.get(k) is not None]
    if keys:
        what = "length " if kind in ("string_text", "list", "audio", "image") else ""
        return what + ", ".join(f"{k}={stats[k]}" for k in keys)
    return ", ".join(f"{k}={v}" for k, v in stats.items() if not isinstance(v, dict | list))


def parse_statistics(data: dict[str, Any]) -> list[ColumnStatistics]:
    """The ``statistics`` list of a ``/statistics`` body."""
    out = []
    for column in data.get("statistics") or []:
        stats = column.get("column_statistics") or {}
        kind = str(column.get("column_type"))
        proportion = stats.get("nan_proportion")
        out.append(ColumnStatistics(
            name=str(column.get("column_name")),
            type=kind,
            nan_proportion=float(proportion) if isinstance(proportion, int | float) else None,
            summary=_summarise_stats(kind, stats),
        ))
    return out


def parse_sizes(data: dict[str, Any]) -> list[SplitSize]:
    """Per-split sizes from a ``/size`` body."""
    return [
        SplitSize(config=str(s.get("config")), split=str(s.get("split")),
                  rows=s.get("num_rows"), columns=s.get("num_columns"),
                  parquet_bytes=s.get("num_bytes_parquet_files"))
        for s in (data.get("size") or {}).get("splits") or []
    ]


class DatasetsServerClient:
    """Typed access to the dataset viewer API over a :class:`ServiceClient`."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def _get(self, endpoint: str, **params: str | None) -> dict[str, Any]:
        data = await self.client.get_json(
            endpoint, {k: v for k, v in params.items() if v is not None}
        )
        if not isinstance(data, dict):
            raise ServiceError(f"datasets-server {endpoint} answered a non-object",
                               service=self.client.service, url=endpoint)
        return data

    async def is_valid(self, dataset: str) -> dict[str, bool]:
        """Which viewer features work for the dataset (preview, viewer, search, ...)."""
        data = await self._get("/is-valid", dataset=dataset)
        return {k: bool(v) for k, v in data.items() if isinstance(v, bool)}

    async def splits(self, dataset: str) -> list[tuple[str, str]]:
        """Every (config, split) pair."""
        data = await self._get("/splits", dataset=dataset)
        return [(str(s["config"]), str(s["split"])) for s in data.get("splits") or []]

    async def info(self, dataset: str, config: str) -> dict[str, Any]:
        """The ``dataset_info`` of one config."""
        data = await self._get("/info", dataset=dataset, config=config)
        info = data.get("dataset_info")
        return info if isinstance(info, dict) else {}

    async def size(self, dataset: str) -> list[SplitSize]:
        """Rows and bytes per split."""
        return parse_sizes(await self._get("/size", dataset=dataset))

    async def first_rows(self, dataset: str, config: str, split: str) -> dict[str, Any]:
        """The ``/first-rows`` body (features, rows, truncated cells)."""
        return await self._get("/first-rows", dataset=dataset, config=config, split=split)

    async def statistics(self, dataset: str, config: str, split: str) -> list[ColumnStatistics]:
        """Column statistics of one split."""
        data = await self._get("/statistics", dataset=dataset, config=config, split=split)
        return parse_statistics(data)

    async def inspect(
        self, dataset: str, config: str | None = None, split: str | None = None,
        rows: int = 3,
    ) -> DatasetInspection:
        """Everything useful about a dataset in as few round trips as possible.

        ``/splits`` must answer (it says whether the dataset exists); other parts that
        fail are listed in ``problems`` instead of failing the whole inspection.
        """
        report = DatasetInspection(dataset=dataset)
        valid, pairs = await asyncio.gather(
            self.is_valid(dataset), self.splits(dataset), return_exceptions=True
        )
        if isinstance(pairs, BaseException):
            raise pairs
        report.splits = pairs
        if isinstance(valid, Exception):
            report.problems.append(f"is-valid: {valid}")
        elif isinstance(valid, dict):
            report.capabilities = valid
        if not pairs:
            report.problems.append("the viewer lists no split for this dataset")
            return report
        configs = list(dict.fromkeys(c for c, _ in pairs))
        report.config = config if config is not None else configs[0]
        in_config = [s for c, s in pairs if c == report.config]
        if not in_config:
            raise ServiceError(
                f"config {report.config!r} not found; configs are {configs}",
                service=self.client.service, url="/splits",
            )
        report.split = split if split is not None else (
            "train" if "train" in in_config else in_config[0])
        if report.split not in in_config:
            raise ServiceError(
                f"split {report.split!r} not in config {report.config!r}; splits are {in_config}",
                service=self.client.service, url="/splits",
            )
        size, info, first, stats = await asyncio.gather(
            self.size(dataset),
            self.info(dataset, report.config),
            self.first_rows(dataset, report.config, report.split),
            self.statistics(dataset, report.config, report.split),
            return_exceptions=True,
        )
        for name, value in (("size", size), ("info", info), ("first-rows", first),
                            ("statistics", stats)):
            if isinstance(value, BaseException):
                if not isinstance(value, Exception):
                    raise value
                report.problems.append(f"{name}: {value}")
        if isinstance(size, list):
            report.sizes = size
        if isinstance(info, dict):
            report.description = str(info.get("description") or "")
            report.license = str(info.get("license") or "")
            report.features = {k: describe_feature(v)
                               for k, v in (info.get("features") or {}).items()}
        if isinstance(first, dict):
            if not report.features:
                report.features = {str(f.get("name")): describe_feature(f.get("type"))
                                   for f in first.get("features") or []}
            for item in (first.get("rows") or [])[:rows]:
                report.first_rows.append(item.get("row") or {})
                report.truncated_cells += len(item.get("truncated_cells") or [])
        if isinstance(stats, list):
            report.statistics = stats
        return report
