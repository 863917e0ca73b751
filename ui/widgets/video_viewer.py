"""A video's keyframes (strip) and a frame scrubber, with the job that decodes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from harlab.data import video
from harlab.jobs import Job, Progress
from harlab.vocab import KEYFRAME_METHODS
from ui.widgets.frame_strip import FrameStrip, to_pixmap

SCRUB_MAX_FRAMES = 300
SCRUB_SIDE = 320


def video_job(path: Path, k: int, method: str) -> Job[tuple]:
    """Keyframes plus up to SCRUB_MAX_FRAMES evenly spaced frames for the scrubber."""
    yield Progress(0, 2, f"keyframes of {path.name}")
    keyframes = video.extract_keyframes(path, k, method)
    yield Progress(1, 2, f"frames of {path.name}")
    info = video.probe(path)
    indices = video.sample_indices(info.frame_count, min(info.frame_count, SCRUB_MAX_FRAMES))
    scale = min(1.0, SCRUB_SIDE / max(info.width, info.height))
    size = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
    frames = video.read_frames(path, indices, size=size)
    return keyframes, indices, frames, info


class VideoViewer(QWidget):
    """Keyframes (method, K, strip) above a scrubber over evenly spaced frames.

    Signals:
        keyframe_settings_changed(): the method or K changed; decode the video again.
    """

    keyframe_settings_changed = Signal()

    def __init__(self, k: int = 8, parent: QWidget | None = None):
        super().__init__(parent)
        self._scrub_frames: np.ndarray | None = None
        self._scrub_indices: list[int] = []
        self._fps = 25.0
        kf_box = QGroupBox("Keyframes")
        kg = QGridLayout(kf_box)
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(KEYFRAME_METHODS))
        self.method_combo.setCurrentText("content")  # the viewer shows what changes
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 64)
        self.k_spin.setValue(k)
        self.method_combo.currentIndexChanged.connect(self._on_keyframe_control_changed)
        self.k_spin.valueChanged.connect(self._on_keyframe_control_changed)
        kg.addWidget(QLabel("Method:"), 0, 0)
        kg.addWidget(self.method_combo, 0, 1)
        kg.addWidget(QLabel("K:"), 0, 2)
        kg.addWidget(self.k_spin, 0, 3)
        kg.setColumnStretch(4, 1)
        self.strip = FrameStrip(thumb_height=72)
        self.strip.frame_clicked.connect(self._on_strip_frame_clicked)
        kg.addWidget(self.strip, 1, 0, 1, 5)
        self.keyframe_note = QLabel("")
        self.keyframe_note.setWordWrap(True)
        kg.addWidget(self.keyframe_note, 2, 0, 1, 5)

        scrub_box = QGroupBox("Frames")
        sv = QVBoxLayout(scrub_box)
        self.frame_view = QLabel("Select a video")
        self.frame_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.frame_view.setMinimumSize(320, 240)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.frame_label = QLabel("")
        sv.addWidget(self.frame_view, 1)
        sv.addWidget(self.slider)
        sv.addWidget(self.frame_label)
        rv = QVBoxLayout(self)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(kf_box)
        rv.addWidget(scrub_box, 1)

    @Slot(int)
    def _on_keyframe_control_changed(self, _value: int) -> None:
        self.keyframe_settings_changed.emit()

    def show_video(self, result) -> Any:
        """Show ``video_job``'s result; returns the video's info."""
        keyframes, indices, frames, info = result
        self._fps = info.fps
        self.strip.set_frames(keyframes.frames, [f"#{i}  {t:.2f}s" for i, t in
                                                 zip(keyframes.indices, keyframes.timestamps_s,
                                                     strict=True)])
        self.keyframe_note.setText(
            f"{keyframes.method}: frames {keyframes.indices}" +
            (f" — {keyframes.note}" if keyframes.note else ""))
        self._scrub_frames, self._scrub_indices = frames, indices
        self.slider.setEnabled(True)
        self.slider.setRange(0, len(indices) - 1)
        self.slider.setValue(0)
        self._show_scrub(0)
        return info

    @Slot(int)
    def _on_slider_changed(self, value: int) -> None:
        self._show_scrub(value)

    @Slot(int)
    def _on_strip_frame_clicked(self, pos: int) -> None:
        if not self._scrub_indices or pos >= len(self.strip.captions):
            return
        target = int(self.strip.captions[pos].split()[0].lstrip("#"))
        nearest = int(np.argmin([abs(i - target) for i in self._scrub_indices]))
        self.slider.setValue(nearest)

    def _show_scrub(self, pos: int) -> None:
        if self._scrub_frames is None or not 0 <= pos < len(self._scrub_frames):
            return
        pix = to_pixmap(self._scrub_frames[pos])
        self.frame_view.setPixmap(pix.scaled(self.frame_view.size(),
                                             Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        index = self._scrub_indices[pos]
        self.frame_label.setText(f"frame {index}  ({index / self._fps:.2f} s)")
