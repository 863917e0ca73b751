"""Human evaluation: blind paired rating, several annotators, agreement.

The public API, by module:

- :mod:`~harlab.rating.rubric`, :mod:`~harlab.rating.rubric_file`: the rubric and its file.
- :mod:`~harlab.rating.item_types`: the registry of item types (``item.kind``), one spec each.
- :mod:`~harlab.rating.session`: annotators, items to rate, sealed blind A/B orders.
- :mod:`~harlab.rating.answers`: answers, committed the moment they are given; progress.
- :mod:`~harlab.rating.transfer`, :mod:`~harlab.rating.importing`: export and import.
- :mod:`~harlab.rating.agreement`, :mod:`~harlab.rating.reliability`: κ, α, disagreements
  (not imported here: they pull in scikit-learn and statsmodels, which the GUI does not need
  to rate).
- :mod:`~harlab.rating.tables`: long form, per-pair summary, meaning-change rating.
"""

from harlab.rating.answers import (
    Answer,
    RatingProgress,
    answers_for,
    item_scores,
    item_status,
    next_unrated,
    progress,
    record_answer,
)
from harlab.rating.importing import ImportReport, RatingImportError, import_ratings
from harlab.rating.rubric import Question, Rubric, RubricError, RubricItem, blind, unblind
from harlab.rating.rubric_file import BUNDLED_RUBRIC, load_rubric, parse_rubric
from harlab.rating.session import (
    Annotator,
    ItemFilter,
    RatingItem,
    annotators,
    blind_order,
    class_names,
    find_annotator,
    get_annotator,
    items,
    validate_name,
)
from harlab.rating.tables import (
    LONG_COLUMNS,
    MEANING_CHANGE_ITEM,
    meaning_change,
    rating_summary,
    ratings_long,
    summary_column,
)
from harlab.rating.transfer import export_ratings

__all__ = [
    "BUNDLED_RUBRIC", "LONG_COLUMNS", "MEANING_CHANGE_ITEM", "Annotator", "Answer", "ImportReport",
    "ItemFilter", "Question", "RatingImportError", "RatingItem", "RatingProgress", "Rubric",
    "RubricError", "RubricItem", "annotators", "answers_for", "blind", "blind_order",
    "class_names", "export_ratings", "find_annotator", "get_annotator", "import_ratings",
    "item_scores", "item_status", "items", "load_rubric", "meaning_change", "next_unrated",
    "parse_rubric", "progress", "rating_summary", "ratings_long", "record_answer",
    "summary_column", "unblind", "validate_name",
]
