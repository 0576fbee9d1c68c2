"""Merging search results across services (recorded Semantic Scholar bodies)."""

from __future__ import annotations

import json

from fixture_server import load_fixture

from openintern.literature.merge import from_s2, fuse
from openintern.literature.semantic_scholar import parse_paper


def test_results_without_a_title_stay_separate_records() -> None:
    # A real search answer for fields=year: every item has an id and a year, no title.
    body = json.loads(load_fixture("semanticscholar/paper_search_year.json"))
    records = [from_s2(parse_paper(item)) for item in body["data"]]
    assert all(not r.title for r in records) and len(records) == 21
    merged = fuse([records])
    assert len(merged) == 21
    assert {r.best_id for r in merged} == {item["paperId"] for item in body["data"]}


def test_the_same_untitled_paper_from_two_lists_is_still_one_record() -> None:
    body = json.loads(load_fixture("semanticscholar/paper_search_year.json"))
    first = [from_s2(parse_paper(item)) for item in body["data"][:5]]
    again = [from_s2(parse_paper(item)) for item in body["data"][3:8]]
    merged = fuse([first, again])
    assert len(merged) == 8
    top = {r.best_id for r in merged[:2]}
    assert top == {body["data"][3]["paperId"], body["data"][4]["paperId"]}  # found twice
