"""Issue 20: `harlab score` reports truncation in HARLab's words (no library warning), and
`harlab results` names its test and CI methods."""

from __future__ import annotations

from harlab.cli import main
from tests.core.test_scoring_fixtures import add_answer, make_project
from tests.core.test_scoring_whole_text import HEAD, TAIL_ALARM, TAIL_SAFE


def test_score_notes_truncation_without_library_warnings(tmp_path, capfd):
    project, ids = make_project(tmp_path / "p")
    add_answer(project, ids[0], "multimodal", "original", HEAD + TAIL_SAFE)
    add_answer(project, ids[0], "multimodal", "attacked", HEAD + TAIL_ALARM)
    project.close()
    root = str(tmp_path / "p")
    assert main(["score", "--project", root, "--device", "cpu",
                 "--metrics", "semantic_cosine,semantic_cosine_full"]) == 0
    out, err = capfd.readouterr()
    assert ("note: semantic_cosine, multimodal: 1 of 3 pairs truncated at 256 word pieces"
            in out)
    assert "unimodal: 0 of" not in out
    assert "Token indices sequence length" not in out + err
    assert main(["results", "--project", root, "--format", "md", "--resamples", "200"]) == 0
    md = capfd.readouterr().out
    assert "| p_method |" in md and "| ci_method |" in md and "| expected_share_null |" in md
    assert "- p-values: 0/1 metrics: McNemar's exact binomial test" in md
    assert "- CIs: 95% BCa bootstrap, 200 resamples, seed 0" in md
    assert "1 of 3 pairs truncated at 256 word pieces" in md
