"""Issue 19: a re-ask after rating keeps every rating (visible, counted, exported) and makes
a new draw with a new seed; the study chooses which pair it uses."""

from __future__ import annotations

import csv
import json

import pytest

from harlab import jobs
from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.llm.runner import query_samples
from harlab.rating import get_annotator, items, load_rubric, progress, record_answer
from harlab.rating.supersede import choose_pair, follow_newest, keep_current, reask_warning
from harlab.store import Project
from harlab.study.export import export_study
from tests.llm_server import FakeLLMServer, add_samples


def seeded_reply(body):
    return f"answer with seed {body.get('seed')}"


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        yield proj


def _config(server):
    return LLMConfig(provider="openai", base_url=server.base_url, model="gpt-4o",
                     api_key_env="", backoff_s=0.01, timeout_s=5.0, concurrency=1)


def rate_fully(project, name, item, rubric):
    ann = get_annotator(project, name)
    for key, value in (("action_correct.original", "yes"), ("action_correct.attacked", "no"),
                       ("hazard.original", "1"), ("hazard.attacked", "4"),
                       ("action_change", "major"), ("meaning_change", "4"),
                       ("better_fit", "original")):
        record_answer(project, ann, item, key, value, rubric)
    return ann


def test_reask_after_rating_keeps_ratings_and_makes_a_new_draw(project, tmp_path):
    add_samples(project, [("Biking", "Biking", "Drumming")])
    rubric = load_rubric()
    with FakeLLMServer(reply=seeded_reply) as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        first = items(project)[0]
        ada = rate_fully(project, "Ada", first, rubric)
        project.insert("scores", sample_id=first.sample_id, modality="unimodal",
                       pair="attacked", metric="semantic_cosine", scorer="test", value=0.5,
                       response_a_id=first.original_id, response_b_id=first.attacked_id,
                       created_at=0.0)
        assert "1 rating(s)" not in (reask_warning(project, first.sample_id, "unimodal") or "x")
        assert "Ada" in reask_warning(project, first.sample_id, "unimodal")
        jobs.run(query_samples(project, _config(server), modalities="unimodal", refresh=True))
        seeds = [b["seed"] for b in server.requests]
    rows = project.query("SELECT variant, draw, seed, response_text FROM llm_requests "
                         "WHERE variant = 'original' ORDER BY id")
    assert [r["draw"] for r in rows] == [0, 1]
    assert rows[0]["seed"] != rows[1]["seed"] and len(set(seeds)) == 4
    assert rows[0]["response_text"] != rows[1]["response_text"]  # a new draw, a new answer
    listed = items(project, ada)
    assert [i.superseded for i in listed] == [False, True]
    assert listed[1].original_id == first.original_id  # the rated pair, still listed
    done = progress(project, ada, rubric)
    assert (done.rated, done.total, done.superseded) == (0, 1, 1)
    out = export_study(project, tmp_path / "out")
    with open(out["evaluation.csv"], encoding="utf-8") as fh:
        row = [r for r in csv.DictReader(fh) if r["modality"] == "unimodal"][0]
    assert row["rating_status"] == "superseded"
    old = json.loads(row["superseded_ratings"])
    assert old[0]["original_response_id"] == first.original_id
    assert old[0]["ratings"]["Ada"]["meaning_change"] == "4"
    assert old[0]["scores"] == {"semantic_cosine": 0.5}  # the old pair's score, kept
    # the study may go back to the rated pair: it is current again, with its ratings
    keep = first
    choose_pair(project, keep.sample_id, "unimodal", keep.original_id, keep.attacked_id)
    assert [i.superseded for i in items(project, ada)] == [False]
    export_study(project, tmp_path / "out2")
    with open(tmp_path / "out2" / "evaluation.csv", encoding="utf-8") as fh:
        row = [r for r in csv.DictReader(fh) if r["modality"] == "unimodal"][0]
    assert row["rating_status"] == "current" and row["rating_meaning_change"] == "4.0"
    assert row["original_response_id"] == str(keep.original_id)
    follow_newest(project, keep.sample_id, "unimodal")
    assert items(project, ada)[0].original_id != keep.original_id


def test_keep_current_survives_a_reask_and_a_plain_rerun_asks_nothing(project):
    add_samples(project, [("Biking", "Biking", "Drumming")])
    with FakeLLMServer(reply=seeded_reply) as server:
        jobs.run(query_samples(project, _config(server), modalities="unimodal"))
        first = items(project)[0]
        keep_current(project, first.sample_id, "unimodal")
        jobs.run(query_samples(project, _config(server), modalities="unimodal", refresh=True))
        assert items(project)[0].original_id == first.original_id
        follow_newest(project, first.sample_id, "unimodal")
        newest = items(project)[0]
        again = jobs.run(query_samples(project, _config(server), modalities="unimodal"))
    assert again.asked == 0 and again.cached == 2  # the current draw (1) is not undone
    assert items(project)[0] == newest


def test_choose_pair_refuses_foreign_ids(project):
    add_samples(project, [("Biking", "Biking", "Drumming")])
    sid = project.query_one("SELECT id FROM samples")[0]
    with pytest.raises(InputError, match="is not an ok original unimodal answer"):
        choose_pair(project, sid, "unimodal", 999, 998)
    with pytest.raises(InputError, match="no current pair"):
        keep_current(project, sid, "unimodal")


def test_a_schema_4_project_with_ratings_opens_and_keeps_them(tmp_path):
    import sqlite3

    from harlab.schema import MIGRATIONS
    from harlab.store import DB_NAME, SCHEMA_VERSION

    root = tmp_path / "old"
    root.mkdir()
    conn = sqlite3.connect(root / DB_NAME)
    conn.executescript("BEGIN; " + "; ".join(MIGRATIONS[:4]) + "; PRAGMA user_version = 4; "
                       f"PRAGMA application_id = {0x4841524C}; COMMIT;")
    conn.execute("INSERT INTO samples (id, video, true_label, true_index, keyframes_json, "
                 "timestamps_json, attack, eps, clean_pred, clean_conf, adv_pred, adv_conf, "
                 "clean_top5_json, adv_top5_json, clean_frames_json, adv_frames_json, "
                 "created_at) VALUES (1, 'v', 'A', 0, '[]', '[]', 'fgsm', 0.03, 'A', 0.9, "
                 "'B', 0.8, '[]', '[]', '[]', '[]', 0)")
    for rid, variant in ((1, "original"), (2, "attacked")):
        conn.execute("INSERT INTO llm_requests (id, cache_key, sample_id, modality, variant, "
                     "provider, model, request_json, response_text, status, created_at) "
                     "VALUES (?, ?, 1, 'unimodal', ?, 't', 'm', '{}', 'x', 'ok', 0)",
                     (rid, f"k{rid}", variant))
    conn.execute("INSERT INTO annotators (id, name, created_at) VALUES (1, 'Ada', 0)")
    conn.execute("INSERT INTO ratings (sample_id, modality, annotator_id, item, value, "
                 "original_response_id, attacked_response_id, rubric_version, created_at, "
                 "updated_at) VALUES (1, 'unimodal', 1, 'meaning_change', '3', 1, 2, '1', 0, 0)")
    conn.commit()
    conn.close()
    with Project.open(root) as project:
        assert project.schema_version == SCHEMA_VERSION
        (row,) = project.query("SELECT item, value, unblinded FROM ratings")
        assert tuple(row) == ("meaning_change", "3", 0)
        assert [i.original_id for i in items(project)] == [1]
