"""The panels' UI preferences: typed like every other setting (:func:`harlab.fields.setting`).

Read with :meth:`ui.context.AppContext.prefs` and stored with
:meth:`ui.context.AppContext.save_prefs`; the keys are the ones earlier versions wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from harlab.fields import setting


@dataclass(frozen=True)
class DataPrefs:
    """The Data panel's keyframe strip."""

    keyframes_k: int = setting(8, key="data/keyframes_k", label="Keyframes", low=1, high=64)


@dataclass(frozen=True)
class RatingPrefs:
    """The Evaluate panel's annotator and display choices."""

    annotator: str = setting("", key="evaluate/annotator", label="Annotator")
    blind: bool = setting(True, key="evaluate/blind", label="Blind A/B")
    show_frames: bool = setting(False, key="evaluate/show_frames", label="Show frames")
