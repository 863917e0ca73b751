"""Issue 20: the Results tab's Table 3 says how many semantic cosines saw cut text."""

from __future__ import annotations

import json

from harlab import jobs
from harlab.scoring import ScoreConfig, score_project
from tests.core.test_scoring_fixtures import make_project
from ui.panels.results_panel import ResultsPanel


def test_table3_notes_truncated_semantic_pairs(qtbot, ctx, tmp_path):
    project, ids = make_project(tmp_path / "p")
    jobs.run(score_project(project, ScoreConfig(metrics=("syntactic_cosine",))))
    for row in project.query("SELECT * FROM scores WHERE metric = 'syntactic_cosine'"):
        cut = row["sample_id"] == ids[0] and row["modality"] == "unimodal"
        details = {"truncated_a": True, "tokens_a": 412, "max_seq_length": 256} if cut else {}
        project.insert("scores", sample_id=row["sample_id"], modality=row["modality"],
                       pair=row["pair"], metric="semantic_cosine", scorer="all-MiniLM-L6-v2",
                       value=0.9, response_a_id=row["response_a_id"],
                       response_b_id=row["response_b_id"], details_json=json.dumps(details),
                       created_at=0.0)
    panel = ResultsPanel(ctx)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(ctx.runner.finished, timeout=20000):
        ctx.set_project(project)
    view = panel.table_view
    notes = {(view.cell_text(r, "modality"), view.cell_text(r, "metric")): view.cell_text(r, "note")
             for r in range(view.rowCount())}
    assert "1 of 3 pairs truncated at 256 word pieces" in notes[("unimodal", "semantic_cosine")]
    assert "truncated" not in notes[("multimodal", "semantic_cosine")]
