"""The study's stored samples: typed rows, their frames as lossless PNGs, and filters.

:func:`~harlab.attacks.selection.find_samples` writes a ``samples`` row per attacked video and
its clean and adversarial keyframes as PNGs in the project's ``frames/`` folder. Views and
later stages read them back here, as :class:`Sample` records with absolute frame paths.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from harlab.errors import InputError, StoreError
from harlab.store import Project

FRAME_VARIANTS = ("clean", "adv")


@dataclass(frozen=True)
class Sample:
    """One attacked video as stored.

    Attributes:
        id, run_id: the row and the ``attack`` run that wrote it.
        video: path relative to the dataset root; true_label / true_index: its class.
        keyframes, timestamps_s: the keyframes' frame indices and times.
        attack, eps: how it was attacked (eps on the [0, 1] scale).
        clean_pred, clean_conf, adv_pred, adv_conf: top-1 before and after (after: of the
            stored PNGs).
        clean_top5, adv_top5: ``[(label, probability), ...]``.
        clean_frames, adv_frames: absolute PNG paths.
        survives_png: whether the stored PNGs still flip the classifier; selected: whether the
            sample belongs to the study.
    """

    id: int
    run_id: int | None
    video: str
    true_label: str
    true_index: int
    keyframes: list[int]
    timestamps_s: list[float]
    attack: str
    eps: float
    clean_pred: str
    clean_conf: float
    adv_pred: str
    adv_conf: float
    clean_top5: list[tuple[str, float]]
    adv_top5: list[tuple[str, float]]
    clean_frames: list[Path]
    adv_frames: list[Path]
    survives_png: bool
    selected: bool

    @property
    def eps_255(self) -> float:
        return self.eps * 255.0

    def frames(self, variant: str) -> list[Path]:
        """``clean`` or ``adv`` frame paths."""
        return self.clean_frames if _variant(variant) == "clean" else self.adv_frames


def _variant(variant: str) -> str:
    if variant not in FRAME_VARIANTS:
        raise InputError(f"frame variant must be one of {', '.join(FRAME_VARIANTS)}, got "
                         f"{variant!r}")
    return variant


def frame_names(row: Any, variant: str) -> list[str]:
    """A ``samples`` row's ``clean`` or ``adv`` frames as stored: relative to the project."""
    return json.loads(row[f"{_variant(variant)}_frames_json"])


def _sample(project: Project, row: Any) -> Sample:
    def paths(variant: str) -> list[Path]:
        return [project.abspath(p) for p in frame_names(row, variant)]

    def top(col: str) -> list[tuple[str, float]]:
        return [(str(label), float(p)) for label, p in json.loads(row[col] or "[]")]

    return Sample(
        id=row["id"], run_id=row["run_id"], video=row["video"], true_label=row["true_label"],
        true_index=row["true_index"], keyframes=[int(i) for i in json.loads(row["keyframes_json"])],
        timestamps_s=[float(t) for t in json.loads(row["timestamps_json"])],
        attack=row["attack"], eps=float(row["eps"]), clean_pred=row["clean_pred"],
        clean_conf=float(row["clean_conf"]), adv_pred=row["adv_pred"],
        adv_conf=float(row["adv_conf"]), clean_top5=top("clean_top5_json"),
        adv_top5=top("adv_top5_json"), clean_frames=paths("clean"),
        adv_frames=paths("adv"), survives_png=bool(row["survives_png"]),
        selected=bool(row["selected"]))


@dataclass(frozen=True)
class SampleRow:
    """What a list of samples shows: one sample without its frames, keyframes or top-5."""

    id: int
    video: str
    true_label: str
    clean_pred: str
    clean_conf: float
    adv_pred: str
    adv_conf: float
    eps: float
    survives_png: bool
    selected: bool

    @property
    def eps_255(self) -> float:
        return self.eps * 255.0


def _where_selected(selected: bool | None) -> str:
    return "" if selected is None else f" WHERE selected = {int(bool(selected))}"


def sample_rows(project: Project, *, selected: bool | None = None,
                newest_first: bool = False) -> list[SampleRow]:
    """Every sample as a light :class:`SampleRow` (cheap for lists of many thousands)."""
    rows = project.query("SELECT id, video, true_label, clean_pred, clean_conf, adv_pred, "
                         "adv_conf, eps, survives_png, selected FROM samples"
                         + _where_selected(selected)
                         + f" ORDER BY id {'DESC' if newest_first else 'ASC'}")
    return [SampleRow(r["id"], r["video"], r["true_label"], r["clean_pred"], r["clean_conf"],
                      r["adv_pred"], r["adv_conf"], r["eps"], bool(r["survives_png"]),
                      bool(r["selected"])) for r in rows]


@dataclass(frozen=True)
class StoredFrames:
    """One sample's frame files as stored (paths relative to the project, not resolved)."""

    id: int
    clean: list[str]
    adv: list[str]


def stored_frame_names(project: Project, *, selected: bool | None = None
                       ) -> list[StoredFrames]:
    """Every sample's frame names in id order, as stored (a bundle checks them unresolved)."""
    rows = project.query("SELECT id, clean_frames_json, adv_frames_json FROM samples"
                         + _where_selected(selected) + " ORDER BY id")
    return [StoredFrames(r["id"], frame_names(r, "clean"), frame_names(r, "adv")) for r in rows]


def list_samples(project: Project, *, selected: bool | None = None,
                 ids: Sequence[int] | None = None, run_id: int | None = None,
                 true_label: str | None = None, newest_first: bool = False) -> list[Sample]:
    """The project's samples, filtered.

    Args:
        selected: True = only the study's samples, False = only the dropped ones, None = all.
        ids: only these ids (unknown ids raise :class:`InputError`).
        run_id: only those written by this ``attack`` run.
        true_label: only this class.
        newest_first: order by id descending instead of ascending.
    """
    where, params = [], []
    if selected is not None:
        where.append("selected = ?")
        params.append(int(selected))
    if run_id is not None:
        where.append("run_id = ?")
        params.append(int(run_id))
    if true_label is not None:
        where.append("true_label = ?")
        params.append(str(true_label))
    wanted = None if ids is None else list(dict.fromkeys(int(i) for i in ids))
    if wanted is not None:
        if not wanted:
            return []
        where.append(f"id IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    sql = "SELECT * FROM samples" + (f" WHERE {' AND '.join(where)}" if where else "")
    rows = project.query(sql + f" ORDER BY id {'DESC' if newest_first else 'ASC'}", params)
    if wanted is not None:
        missing = sorted(set(wanted) - {r["id"] for r in rows})
        if missing and selected is None and run_id is None and true_label is None:
            raise InputError(f"no sample with id {', '.join(map(str, missing))} in project "
                             f"{str(project.root)!r}; pick ids from the samples table.")
    return [_sample(project, row) for row in rows]


def get_sample(project: Project, sample_id: int) -> Sample:
    """One sample; raises :class:`InputError` when the id is unknown."""
    row = project.query_one("SELECT * FROM samples WHERE id = ?", (int(sample_id),))
    if row is None:
        raise InputError(f"sample {sample_id} does not exist in project {str(project.root)!r}; "
                         "pick one from the samples table.")
    return _sample(project, row)


def sample_frames(project: Project, sample_id: int, variant: str) -> list[Path]:
    """A sample's ``clean`` or ``adv`` PNG paths (absolute)."""
    return get_sample(project, sample_id).frames(variant)


def write_pngs(folder: Path, prefix: str, frames: np.ndarray) -> list[Path]:
    """Write ``(K, H, W, 3)`` uint8 RGB frames as lossless PNGs ``prefix_00.png``, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, frame in enumerate(frames):
        path = folder / f"{prefix}_{k:02d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, 3]):
            raise StoreError(f"cannot write {path}; check that the project folder is writable "
                             "and the disk is not full.")
        paths.append(path)
    return paths


def read_pngs(paths: Sequence[str | Path]) -> np.ndarray:
    """Read PNG frames back as ``(K, H, W, 3)`` uint8 RGB."""
    frames = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise StoreError(f"cannot read frame {path}; it is missing or not an image. "
                             "Re-run the attack to write it again.")
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return np.stack(frames)
