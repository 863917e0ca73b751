"""A sample's four answers side by side: unimodal / multimodal (rows) x original / attacked.

Each cell (:class:`ResponseCell`) shows the prompt sent, thumbnails of the frames sent, the
answer and the request's status with a retry button; below each pair, the words that changed
between original and attacked are marked, with the pair's stored scores and noise floor, or
the one reason both sides were skipped. The Responses tab owns the sample list and the jobs;
this view only shows what the project holds for one sample.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QWidget

from harlab.attacks.samples import Sample, get_sample
from harlab.llm.records import RequestRecord, sample_requests
from harlab.rating.supersede import rated_pairs
from harlab.scoring.results import sample_scores
from harlab.vocab import MODALITIES, SIDES
from ui.widgets.reask_dialog import superseded_text
from ui.widgets.response_cell import ResponseCell
from ui.widgets.word_diff import diff_html, legend_html


class ResponsePairsView(QWidget):
    """The 2x2 grid of answer cells and one line per pair below it.

    Signals:
        retry_requested(str): a cell's retry button, with the cell's modality.
    """

    THUMB_HEIGHT = 56
    retry_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.cells: dict[tuple[str, str], ResponseCell] = {}
        self.similarity_labels: dict[str, QLabel] = {}
        for r, modality in enumerate(MODALITIES):
            box = QGroupBox(modality.capitalize())
            row = QGridLayout(box)
            for c, variant in enumerate(SIDES):
                cell = ResponseCell(modality, variant)
                cell.retry_requested.connect(self.retry_requested)
                self.cells[(modality, variant)] = cell
                row.addWidget(cell, 0, c)
            sim = QLabel(wordWrap=True)
            self.similarity_labels[modality] = sim
            row.addWidget(sim, 1, 0, 1, 2)
            grid.addWidget(box, r, 0)

    def show_sample(self, project: Any, sample_id: int | None) -> None:
        """Show the stored requests of ``sample_id`` in ``project`` (None: empty cells)."""
        sample = None if project is None or sample_id is None else get_sample(project, sample_id)
        rows = {} if sample is None else sample_requests(project, sample_id)
        scores = {} if sample is None else sample_scores(project, sample_id)
        for modality in MODALITIES:
            pair = [rows.get((modality, variant)) for variant in SIDES]
            reason = _shared_reason(*pair)
            for variant, row in zip(SIDES, pair, strict=True):
                cell = self.cells[(modality, variant)]
                cell.set_request(row, self._thumbnails(sample, modality, variant),
                                 _prompt_of(row, sample, modality, variant),
                                 reason_below=reason is not None)
                cell.setEnabled(sample is not None)
            label = self.similarity_labels[modality]
            a, b = pair
            if a is not None and b is not None and a.status == b.status == "ok":
                ta, tb = a.response_text or "", b.response_text or ""
                ha, hb = diff_html(ta, tb)
                self.cells[(modality, "original")].response_view.show_diff(ta, ha)
                self.cells[(modality, "attacked")].response_view.show_diff(tb, hb)
                label.setText(_scores_text(scores, modality)
                              + superseded_text(rated_pairs(project, sample_id, modality))
                              + "<br>" + legend_html())
            elif reason is not None:
                label.setText(f"<b>Both skipped</b>: {html.escape(reason, quote=False)}")
            else:
                label.setText("")

    def _thumbnails(self, sample: Sample | None, modality: str, variant: str) -> list[QPixmap]:
        """The frames a multimodal request sends, scaled for the cell."""
        if sample is None or modality != "multimodal":
            return []
        frames = []
        for path in sample.frames("clean" if variant == "original" else "adv"):
            pix = QPixmap(str(path))
            if not pix.isNull():
                frames.append(pix.scaledToHeight(
                    self.THUMB_HEIGHT, Qt.TransformationMode.SmoothTransformation))
        return frames


def _scores_text(scores: dict[tuple[str, str], dict[str, float | None]], modality: str) -> str:
    """The stored scores of a pair, and its noise floor, as one line."""
    drift = scores.get((modality, "attacked"))
    if not drift:
        return "Not scored yet: press Score in the Results panel (or harlab score)"

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    text = (f"Syntactic cosine {num(drift.get('syntactic_cosine'))} · semantic cosine "
            f"{num(drift.get('semantic_cosine'))}")
    if drift.get("decision_changed") is not None:
        text += f" · decision {'changed' if drift['decision_changed'] else 'held'}"
    for metric in ("semantic_cosine", "syntactic_cosine"):
        floor = [v.get(metric) for (m, pair), v in scores.items()
                 if m == modality and pair.startswith("noise-") and v.get(metric) is not None]
        if floor:
            text += (f" · noise floor ({metric.split('_')[0]}, original vs {len(floor)} "
                     f"re-draw(s) of itself) {sum(floor) / len(floor):.3f}")
            break
    return text


def _shared_reason(a: RequestRecord | None, b: RequestRecord | None) -> str | None:
    """The reason both sides of a pair were skipped, when it is the same one (a text-only
    model, no scenario): stated once below the pair instead of in each cell. A failure's
    reason stays in its cell, beside the cell's own Retry."""
    if (a is None or b is None or a.status != "skipped" or b.status != "skipped"
            or not a.error or a.error != b.error):
        return None
    return a.error


def _prompt_of(row: RequestRecord | None, sample: Sample | None, modality: str,
               variant: str) -> str:
    """The user text that was sent (from the stored request), else what would be sent."""
    if row is not None and row.prompt:
        return row.prompt
    if sample is None:
        return ""
    if modality == "unimodal":
        label = sample.clean_pred if variant == "original" else sample.adv_pred
        return f"(scenario prompt with label {label})"
    return "(scenario question with the " + ("clean" if variant == "original" else
                                             "adversarial") + " frames)"
