"""The current_requests view (schema 4) and the readers of the current answers over it."""

from __future__ import annotations

import sqlite3
import time

from harlab.llm import records
from harlab.store import MIGRATIONS, Project
from tests.core.test_stages import _add_sample


def _ask(project: Project, sid: int, modality: str, variant: str, status: str = "ok",
         error: str | None = None, run: bool = True) -> int:
    return project.insert(
        "llm_requests", cache_key=f"{sid}{modality}{variant}{time.time()}", sample_id=sid,
        modality=modality, variant=variant, provider="builtin", model="m", request_json="{}",
        response_text="answer" if status == "ok" else None, status=status, error=error,
        attempts=1, created_at=time.time(), run_id=None if not run else 1)


def test_the_newest_request_per_sample_modality_and_variant_is_current(tmp_path):
    with Project.create(tmp_path / "p") as project:
        with project.run("query", {}) as _rec:
            pass
        a, b = _add_sample(project), _add_sample(project, selected=0)
        _ask(project, a, "unimodal", "original", "failed", "boom")
        newest = _ask(project, a, "unimodal", "original")
        _ask(project, a, "unimodal", "attacked", "skipped", "no scenario")
        _ask(project, b, "unimodal", "original")
        current = records.current_requests(project)
        assert current[(a, "unimodal", "original")]["id"] == newest and len(current) == 3
        assert set(records.current_requests(project, selected_only=True)) == {
            (a, "unimodal", "original"), (a, "unimodal", "attacked")}
        assert [r["variant"] for r in records.latest_requests(project, a)] == ["attacked",
                                                                               "original"]
        assert records.latest_requests(project, a)[1]["id"] == newest
        assert records.answer_counts(project) == {"unimodal ok": 1, "unimodal skipped": 1}
        assert records.skip_reasons(project) == {"no scenario": 1}
        assert [r["status"] for r in records.latest_statuses(project)] == ["skipped", "ok",
                                                                             "ok"]


def test_a_schema_3_project_opens_and_gains_the_view(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / "project.sqlite")
    conn.executescript("BEGIN; " + "; ".join(MIGRATIONS[:3]) + "; PRAGMA user_version = 3; "
                       "PRAGMA application_id = 1212240460; "
                       "INSERT INTO meta VALUES ('created_at', '0'); COMMIT;")
    conn.close()
    with Project.open(root) as project:
        assert project.schema_version == len(MIGRATIONS) >= 4
        sid = _add_sample(project)
        first = _ask(project, sid, "multimodal", "attacked", "failed", "boom", run=False)
        second = _ask(project, sid, "multimodal", "attacked", run=False)
        assert records.current_requests(project)[(sid, "multimodal", "attacked")]["id"] == (
            second) != first
