"""Scoring: how much an answer changed when the classifier was fooled, and Table 3.

Each *pair* is two current answers of one sample and modality: ``attacked`` (the original answer
vs the attacked one) or ``noise-k`` (the original vs its k-th clean re-draw, the noise floor).
Every score is stored with its metric, its scorer (model or rule version) and the two response
ids it judged, so another model adds rows and a new answer gets new scores.

Metrics (value range; ``None`` only with a stored reason); each is one spec in the registry
:mod:`.metrics`, which the job, the tables, the exports and the CLI read:

* ``syntactic_cosine`` in [0, 1]: cosine of the two answers' bag-of-words count vectors
  (scikit-learn ``CountVectorizer(lowercase=True)``, default tokenisation: words of 2+
  letters). 1 = same words in the same proportions; 0 = no word in common. Scorer
  ``sklearn-countvectorizer``.
* ``semantic_cosine`` in [-1, 1] (in practice about [0, 1]): cosine of the answers'
  sentence-transformers embeddings, all-MiniLM-L6-v2 by default, loaded offline; the scorer is
  the model name. Texts beyond the model's ``max_seq_length`` word pieces are truncated by the
  model: flagged ``truncated_a/b`` in the details. Kept exactly as sentence-transformers
  computes it, for comparison with the paper.
* ``semantic_cosine_full`` in [-1, 1]: the same model's cosine of *whole* answers: answers
  longer than the model's window are embedded in overlapping windows, mean-pooled and
  normalised (:mod:`.whole_text`); equal to ``semantic_cosine`` when neither answer is cut.
* ``true_label_mentioned`` in {0, 1}: 1 when the second answer (attacked / re-draw) still names
  the true action (its class name as words, e.g. "baby crawling").
* ``adv_label_mentioned`` in {0, 1}: 1 when the second answer names the adversarial label. In
  the unimodal condition the attacked prompt itself contains that label, so expect ~1 there; in
  the multimodal condition it says whether the model saw the fooled action in the frames.
  Details hold both answers' categories: ``true``, ``adversarial``, ``both`` or ``neither``.
* ``decision_changed`` in {0, 1}: 1 when the answers' recommendations differ (``alert`` vs
  ``no_alert``) by the keyword rules of ``resources/decision_rules.yaml`` for the sample's
  scenario; ``None`` with reason "unclear" when either answer is unclear. Scorer
  ``decision-rules-v1:<rule set>:<hash>``.

Fixed values: an empty answer gives ``None`` ("empty answer"); identical answers give 1.0 for
both cosines; an answer with no word token gives a ``None`` syntactic cosine. Refusals ("I'm
sorry, but I can't ...") are kept and flagged ``refusal_a/b`` in the details.

The pieces: :mod:`.metrics` (the registry), :mod:`.similarity` (the cosines),
:mod:`.judgments` (label mention, decision rules), :mod:`.job` (:class:`ScoreConfig`,
:func:`score_project`), :mod:`.results` (read functions, Table 3), :mod:`.stats`
(scipy/statsmodels statistics), :mod:`.tables` (CSV, Markdown, LaTeX).
"""

from harlab.scoring.job import ScoreConfig, ScoreResult, plan_pairs, score_project
from harlab.scoring.metrics import METRIC_SPECS, METRICS, MetricSpec, metric
from harlab.scoring.results import (
    PairScore,
    Results,
    drift_vs_noise,
    pair_scores,
    results_job,
    results_table,
)
from harlab.scoring.similarity import (
    DEFAULT_MODEL,
    EmbeddingModels,
    Similarity,
    compare_semantic,
    compare_syntactic,
    semantic_similarities,
    semantic_similarity,
    syntactic_similarities,
    syntactic_similarity,
)
from harlab.scoring.stats import PAPER_TABLE3, StatsConfig, spearman_ci
from harlab.scoring.tables import format_results, to_csv, to_latex, to_markdown

__all__ = [
    "DEFAULT_MODEL", "METRICS", "METRIC_SPECS", "PAPER_TABLE3", "EmbeddingModels",
    "MetricSpec", "PairScore", "Results", "ScoreConfig", "ScoreResult", "Similarity",
    "StatsConfig", "compare_semantic", "compare_syntactic", "drift_vs_noise",
    "format_results", "metric", "pair_scores", "plan_pairs", "results_job", "results_table",
    "score_project", "semantic_similarities", "semantic_similarity", "spearman_ci",
    "syntactic_similarities", "syntactic_similarity", "to_csv", "to_latex", "to_markdown",
]
