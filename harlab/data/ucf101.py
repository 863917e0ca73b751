"""UCF-101 as distributed: ``UCF-101/<Class>/v_<Class>_gNN_cMM.avi`` and ``ucfTrainTestlist/``.

The split files come from Windows: CRLF line endings, sometimes a trailing blank line or
trailing spaces. ``classInd.txt`` lines are ``1 ApplyEyeMakeup`` (1-based); ``trainlist0F.txt``
lines are ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``; ``testlist0F.txt`` lines carry no
label. Names in the lists do not always match the disk's case (``HandStandPushups`` vs
``HandstandPushups``), so paths fall back to a case-insensitive match and the report notes it.

Clips of one group share actor and background, so validation splits go by group
(:func:`group_split`). Fold ``f`` tests groups ``7(f-1)+1 .. 7f``; groups 22-25 always train.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harlab.data import video
from harlab.errors import DatasetError, InputError
from harlab.jobs import Job, Progress, run

log = logging.getLogger(__name__)

VIDEO_DIR_NAMES = ("UCF-101", "UCF101")
ANNOTATION_DIR_NAMES = ("ucfTrainTestlist",
                        "UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist")
VIDEO_SUFFIXES = {".avi", ".mp4", ".mkv", ".mov", ".webm"}
FOLDS = (1, 2, 3)
_NAME_RE = re.compile(r"^v_(?P<cls>[^_/]+)_g(?P<group>\d+)_c(?P<clip>\d+)\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class VideoItem:
    """One clip listed in a split file.

    Attributes:
        path: absolute path of the file on disk.
        relpath: ``Class/v_Class_gNN_cMM.avi`` as found on disk (``/`` separated).
        label: 0-based class index in ``classInd.txt`` order.
        class_name: the class name from ``classInd.txt``.
        group: the ``gNN`` number (clips of one group share actor and background).
        clip: the ``cMM`` number within its group.
    """

    path: Path
    relpath: str
    label: int
    class_name: str
    group: int
    clip: int


@dataclass(frozen=True)
class ReportEntry:
    """One finding: ``kind`` is one of :data:`REPORT_KINDS`."""

    kind: str
    path: str
    reason: str


REPORT_KINDS = {
    "missing": "listed in a split file but not on disk",
    "unlisted": "on disk but in no split of this fold",
    "empty_class": "class without videos",
    "unreadable": "cannot be decoded",
    "bad_line": "split-file line that cannot be parsed",
    "note": "accepted with a remark (e.g. a case mismatch)",
}
_NOT_PROBLEMS = {"note"}


@dataclass
class ValidationReport:
    """Everything wrong (or remarkable) about a dataset folder."""

    entries: list[ReportEntry] = field(default_factory=list)
    checked_videos: int = 0

    @property
    def ok(self) -> bool:
        return not any(e.kind not in _NOT_PROBLEMS for e in self.entries)

    def by_kind(self, kind: str) -> list[ReportEntry]:
        return [e for e in self.entries if e.kind == kind]

    def counts(self) -> dict[str, int]:
        return dict(Counter(e.kind for e in self.entries))

    def to_text(self) -> str:
        if not self.entries:
            return f"OK: {self.checked_videos} videos checked, no problems found."
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        head = "OK with notes" if self.ok else "PROBLEMS"
        lines = [f"{head}: {self.checked_videos} videos checked; {counts}."]
        for e in self.entries:
            lines.append(f"[{e.kind}] {e.path}: {e.reason}")
        return "\n".join(lines)


def parse_video_name(name: str) -> tuple[str, int, int]:
    """``v_Biking_g08_c03.avi`` -> ``("Biking", 8, 3)``; raises InputError otherwise."""
    m = _NAME_RE.match(Path(name).name)
    if not m:
        raise InputError(f"video name {name!r} is not in the UCF-101 form "
                         "v_<Class>_gNN_cMM.avi")
    return m["cls"], int(m["group"]), int(m["clip"])


def fold_test_groups(fold: int, n_groups: int = 25) -> set[int]:
    """Groups held out for testing in ``fold``: 1-7, 8-14, 15-21 for UCF-101's 25 groups.

    A dataset with fewer groups (the demo) scales the blocks: ``round(7 * n_groups / 25)``.
    """
    if fold not in FOLDS:
        raise InputError(f"fold must be 1, 2 or 3 (UCF-101's three splits), got {fold!r}")
    block = max(1, round(7 * n_groups / 25))
    return set(range((fold - 1) * block + 1, fold * block + 1))


def _not_a_file(path: Path) -> str:
    """Why a listed clip at ``path`` is no video: a folder, a broken link, or nothing."""
    if path.is_symlink() and not path.exists():
        return f"on disk it is a broken link (to {os.readlink(path)}); fix or remove the link"
    if path.is_dir():
        return "on disk it is a folder, not a video file"
    return "not on disk"


def _read_lines(path: Path) -> list[tuple[int, str]]:
    try:
        raw = path.read_bytes()
    except PermissionError as exc:
        raise DatasetError(f"split file {path} is not readable (permission denied); fix its "
                           "permissions, e.g. chmod a+r") from exc
    except OSError as exc:
        raise DatasetError(f"split file {path} cannot be read ({exc.strerror}); "
                           "re-extract ucfTrainTestlist") from exc
    text = raw.decode("utf-8-sig", errors="replace")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _find_annotation_dir(parent: Path, videos: Path) -> Path | None:
    for base in (parent, videos):
        for name in ANNOTATION_DIR_NAMES:
            cand = base / name
            if (cand / "classInd.txt").is_file():
                return cand
    return None


class UCF101:
    """Index of a UCF-101 folder for one of its three folds.

    Args:
        root: the folder holding ``UCF-101/`` (and usually ``ucfTrainTestlist/``), or the
            ``UCF-101`` folder itself.
        annotation_dir: the folder with ``classInd.txt`` and the split lists; found next to
            the videos when None.
        fold: 1, 2 or 3.

    Attributes:
        root: the folder holding the class folders.
        annotation_dir: the folder holding the split files.
        classes: class names in ``classInd.txt`` order (labels are their 0-based positions).
        train, test: the clips of this fold's split lists that exist on disk.
        problems: what indexing found wrong (missing files, bad lines, case mismatches);
            :meth:`validate` adds what only a look at the disk and the files can find.
    """

    def __init__(self, root: str | Path, annotation_dir: str | Path | None = None,
                 fold: int = 1):
        if fold not in FOLDS:
            raise InputError(f"fold must be 1, 2 or 3 (UCF-101's three splits), got {fold!r}")
        self.fold = fold
        if root is None or str(root).strip() == "":
            raise InputError("no dataset folder given; choose the folder that holds UCF-101/ "
                             "and ucfTrainTestlist/, or use the demo dataset")
        given = Path(root).expanduser()
        if not given.exists():
            raise DatasetError(f"dataset folder {given} does not exist; choose the folder that "
                               "holds UCF-101/ and ucfTrainTestlist/")
        if not given.is_dir():
            raise DatasetError(f"dataset path {given} is a file, expected the folder that "
                               "holds UCF-101/ and ucfTrainTestlist/")
        given = given.resolve()
        videos = next((given / n for n in VIDEO_DIR_NAMES if (given / n).is_dir()), given)
        self.root = videos
        if annotation_dir is None:
            ann = _find_annotation_dir(videos.parent if videos == given else given, videos)
            if ann is None:
                raise DatasetError(
                    f"{given} does not look like UCF-101: no ucfTrainTestlist/classInd.txt "
                    f"next to it or inside it. Put the ucfTrainTestlist folder (from "
                    "UCF101TrainTestSplits-RecognitionTask.zip) beside UCF-101/, or pass "
                    "annotation_dir")
        else:
            ann = Path(annotation_dir).expanduser()
            if not ann.is_dir():
                raise DatasetError(f"annotation folder {ann} does not exist; pass the "
                                   "ucfTrainTestlist folder")
            if not (ann / "classInd.txt").is_file():
                raise DatasetError(f"{ann / 'classInd.txt'} is missing; the annotation folder "
                                   "must hold classInd.txt and the train/test lists")
        self.annotation_dir = ann.resolve()
        self.problems: list[ReportEntry] = []
        self.classes = self._read_classes()
        self._label_of = {c: i for i, c in enumerate(self.classes)}
        self._label_of_lower = {c.lower(): i for i, c in enumerate(self.classes)}
        self._disk = self._scan_disk()
        if not any(self._disk_classes.get(c.lower()) for c in self.classes):
            raise DatasetError(
                f"{videos} does not look like UCF-101: none of the {len(self.classes)} "
                f"classes in {self.annotation_dir / 'classInd.txt'} has a folder of videos "
                "there. Choose the folder that holds UCF-101/")
        self.train = self._read_split(f"trainlist{fold:02d}.txt", labelled=True)
        self.test = self._read_split(f"testlist{fold:02d}.txt", labelled=False)

    # -- parsing ----------------------------------------------------------------------------
    def _read_classes(self) -> list[str]:
        path = self.annotation_dir / "classInd.txt"
        classes: list[str] = []
        for lineno, line in _read_lines(path):
            parts = line.split()
            if len(parts) != 2 or not parts[0].isdigit():
                raise DatasetError(f"{path} line {lineno} is {line!r}, expected "
                                   "'<index> <ClassName>' such as '1 ApplyEyeMakeup'")
            index, name = int(parts[0]), parts[1]
            if index != len(classes) + 1:
                raise DatasetError(f"{path} line {lineno} has index {index}, expected "
                                   f"{len(classes) + 1}: indices must run 1, 2, 3, ... in order")
            if name in classes:
                raise DatasetError(f"{path} line {lineno} repeats class {name!r}; each class "
                                   "must appear once")
            classes.append(name)
        if not classes:
            raise DatasetError(f"{path} lists no classes; expected lines like "
                               "'1 ApplyEyeMakeup'")
        return classes

    def _scan_disk(self) -> dict[str, Path]:
        """Map lower-case ``class/file`` to the real path of every video on disk."""
        disk: dict[str, Path] = {}
        self._disk_classes: dict[str, Path] = {}
        try:
            entries = list(os.scandir(self.root))
        except PermissionError as exc:
            raise DatasetError(f"dataset folder {self.root} is not readable (permission "
                               "denied); fix its permissions") from exc
        for entry in entries:
            if not entry.is_dir():
                continue
            self._disk_classes[entry.name.lower()] = Path(entry.path)
            try:
                files = list(os.scandir(entry.path))
            except PermissionError:
                self.problems.append(ReportEntry("unreadable", entry.name,
                                                 "class folder not readable (permission "
                                                 "denied)"))
                continue
            for f in files:
                # is_file() follows links: a folder or a dangling link named like a video is
                # no video, and indexing it would pass it off as a letter-case variant.
                if Path(f.name).suffix.lower() in VIDEO_SUFFIXES and f.is_file():
                    disk[f"{entry.name}/{f.name}".lower()] = Path(f.path)
        return disk

    def _read_split(self, filename: str, labelled: bool) -> list[VideoItem]:
        path = self.annotation_dir / filename
        if not path.is_file():
            raise DatasetError(f"split file {path} is missing; the annotation folder must hold "
                               f"trainlist0{self.fold}.txt and testlist0{self.fold}.txt "
                               f"(or choose another fold)")
        items: list[VideoItem] = []
        for lineno, line in _read_lines(path):
            parts = line.replace("\\", "/").split()
            where = f"{filename}:{lineno}"
            if len(parts) not in (1, 2) or "/" not in parts[0]:
                self.problems.append(ReportEntry("bad_line", where, f"{line!r} is not "
                                                 "'Class/v_Class_gNN_cMM.avi [label]'"))
                continue
            rel = parts[0]
            folder, name = rel.rsplit("/", 1)
            try:
                _, group, clip = parse_video_name(name)
            except InputError as exc:
                self.problems.append(ReportEntry("bad_line", where, str(exc)))
                continue
            label = self._label_of.get(folder)
            if label is None:
                label = self._label_of_lower.get(folder.lower())
                if label is None:
                    self.problems.append(ReportEntry("bad_line", where, f"class folder "
                                                     f"{folder!r} is not in classInd.txt"))
                    continue
            if labelled and len(parts) == 2:
                if not parts[1].isdigit() or int(parts[1]) - 1 != label:
                    self.problems.append(ReportEntry(
                        "bad_line", where, f"label {parts[1]!r} does not match class "
                        f"{self.classes[label]!r} (index {label + 1} in classInd.txt)"))
                    continue
            real = self.root / rel
            if not real.is_file():
                found = self._disk.get(rel.lower())
                if found is None:
                    self.problems.append(ReportEntry("missing", rel, f"listed in {where} but "
                                                     f"{_not_a_file(real)}"))
                    continue
                real = found
                self.problems.append(ReportEntry(
                    "note", rel, f"{where} names it with different letter case; using "
                    f"{real.parent.name}/{real.name}"))
            items.append(VideoItem(real, f"{real.parent.name}/{real.name}", label,
                                   self.classes[label], group, clip))
        return items

    # -- queries ------------------------------------------------------------------------------
    def items(self, split: str) -> list[VideoItem]:
        """The clips of ``split`` ("train" or "test")."""
        if split not in ("train", "test"):
            raise InputError(f"split must be 'train' or 'test', got {split!r}")
        return self.train if split == "train" else self.test

    def counts(self) -> list[tuple[str, int, int]]:
        """``(class, train clips, test clips)`` per class in label order."""
        tr = Counter(i.label for i in self.train)
        te = Counter(i.label for i in self.test)
        return [(c, tr[i], te[i]) for i, c in enumerate(self.classes)]

    def validate_job(self, check_videos: bool = True) -> Job[ValidationReport]:
        """Build a :class:`ValidationReport`, yielding Progress per video checked.

        Lists missing files, files on disk in no split of this fold, classes without videos,
        unparseable split lines and (with ``check_videos``) unreadable videos with the reason.
        """
        report = ValidationReport(list(self.problems))
        listed = {i.relpath.lower() for i in self.train + self.test}
        for key, path in sorted(self._disk.items()):
            if key not in listed:
                report.entries.append(ReportEntry("unlisted", f"{path.parent.name}/{path.name}",
                                                  f"on disk but in neither trainlist0{self.fold}"
                                                  f" nor testlist0{self.fold}"))
        per_class = Counter(i.label for i in self.train + self.test)
        for label, name in enumerate(self.classes):
            if not per_class[label]:
                folder = self._disk_classes.get(name.lower())
                why = ("no class folder on disk" if folder is None
                       else "class folder holds no listed video")
                report.entries.append(ReportEntry("empty_class", name, why))
        items = self.train + self.test
        if check_videos:
            for n, item in enumerate(items, 1):
                reason = video_problem(item.path)
                if reason:
                    report.entries.append(ReportEntry("unreadable", item.relpath, reason))
                yield Progress(n, len(items), item.relpath)
        report.checked_videos = len(items) if check_videos else 0
        return report

    def validate(self, check_videos: bool = True) -> ValidationReport:
        return run(self.validate_job(check_videos))

    def __repr__(self) -> str:
        return (f"UCF101(root={str(self.root)!r}, fold={self.fold}, classes="
                f"{len(self.classes)}, train={len(self.train)}, test={len(self.test)})")


def video_problem(path: Path) -> str:
    """Why ``path`` cannot be used as a video, or "" when its first and last frames decode.

    Seeks rather than decoding the whole file, so validating all of UCF-101 takes minutes.
    """

    try:
        video.verify(path)
    except DatasetError as exc:
        return str(exc).replace(f"video {path} ", "", 1)
    return ""


def group_split(items: Sequence[VideoItem], val_fraction: float,
                seed: int = 0) -> tuple[list[VideoItem], list[VideoItem]]:
    """Split clips into train/validation by (class, group), never splitting a group.

    For each class, ``round(val_fraction * groups)`` of its groups (at least one when the class
    has two or more groups and ``val_fraction > 0``) go to validation, chosen by ``seed``.
    """
    if not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction!r} "
                         "(e.g. 0.2 for 20% of each class's groups)")
    groups: dict[int, set[int]] = defaultdict(set)
    for it in items:
        groups[it.label].add(it.group)
    rng = random.Random(seed)
    val_keys: set[tuple[int, int]] = set()
    for label in sorted(groups):
        gs = sorted(groups[label])
        n_val = round(val_fraction * len(gs))
        if val_fraction > 0 and len(gs) >= 2:
            n_val = min(max(1, n_val), len(gs) - 1)
        val_keys.update((label, g) for g in rng.sample(gs, n_val))
    train = [it for it in items if (it.label, it.group) not in val_keys]
    val = [it for it in items if (it.label, it.group) in val_keys]
    return train, val


def write_split_files(annotation_dir: Path, classes: Sequence[str],
                      items: Iterable[tuple[str, int, int]], n_groups: int) -> None:
    """Write classInd.txt and the three folds' lists in the original format (CRLF).

    ``items`` are ``(class, group, clip)``; the file for each is ``Class/v_Class_gNN_cMM.avi``.
    """
    annotation_dir.mkdir(parents=True, exist_ok=True)
    label = {c: i + 1 for i, c in enumerate(classes)}
    ordered = sorted(items, key=lambda t: (label[t[0]], t[1], t[2]))

    def write(name: str, lines: list[str]) -> None:
        (annotation_dir / name).write_bytes("".join(f"{ln}\r\n" for ln in lines).encode())

    write("classInd.txt", [f"{i + 1} {c}" for i, c in enumerate(classes)])
    for fold in FOLDS:
        held = fold_test_groups(fold, n_groups)
        train, test = [], []
        for c, g, k in ordered:
            rel = f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi"
            (test if g in held else train).append(rel if g in held else f"{rel} {label[c]}")
        write(f"trainlist{fold:02d}.txt", train)
        write(f"testlist{fold:02d}.txt", test)
