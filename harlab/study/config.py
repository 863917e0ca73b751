"""What a study is: :class:`StudyConfig`, its demo and paper presets, and its YAML file.

A study names the dataset and fold, the classifier (or the preset that trains one), the classes
and samples per class, keyframes, the attack and eps, the language model of each arm (unimodal:
the label in the prompt; multimodal: the frames), the noise-floor draws and the similarity
model. Where the paper is silent HARLab chooses, and every output says what it chose
(:meth:`StudyConfig.chosen_settings`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harlab.attacks.config import KEYFRAME_METHODS
from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.validation import check_positive_int, check_range
from harlab.vocab import DEFAULT_NOISE_FLOOR
from harlab.yamlio import clip, load_yaml, read_yaml_text, short_repr

TRAIN_PRESETS = ("demo", "paper")


class StudyConfigError(InputError):
    """A study configuration is malformed; the message names the file, key and fix."""


#: Field metadata of a setting added after studies were run (see StudyConfig.fingerprint):
#: mark every new setting that changes a stage's output with it.
_ADDED_LATER = {"added_later": True}


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


@dataclass(frozen=True)
class StudyConfig:
    """One study, saved with the project (meta ``study/config``) and with every export.

    Attributes:
        name: a label for the outputs.
        dataset: ``demo`` (the generated demo dataset) or a folder holding ``UCF-101/`` and
            ``ucfTrainTestlist/`` as released.
        fold: UCF-101 split (1-3).
        checkpoint: a classifier ``.pt``; None trains one with ``train_preset`` first (or
            reuses the project's latest finished training run).
        train_preset: ``demo`` (64 px, fast on a CPU) or ``paper`` (224 px, 50 frames/video,
            50 epochs, ImageNet weights).
        weights: starting weights for training: ``auto``, ``imagenet``, ``none`` or a file.
        train: further :class:`~harlab.train.config.TrainConfig` settings over the preset
            (e.g. ``{epochs: 5}``).
        allow_random_weights: the paper preset refuses to train from random weights unless
            this is true.
        classes: true classes to sample (the paper: BabyCrawling, Biking).
        per_class: correct-to-wrong samples per class (the paper: 25).
        allow_fewer: go on when a class has fewer samples than ``per_class`` (else stop with
            the counts and what to change).
        keyframes, keyframe_method: keyframes per video and how they are chosen.
        attack, eps: the attack (any registered one: ``harlab attack --help`` lists them) and
            its budget (``"8/255"`` accepted; an L2 radius for the L2 attacks).
        attack_params: the attack's own parameters (``{steps: 20}``; ``{k: 1}`` for the
            sparse-frame attack), checked against its signature.
        surrogate: the transfer threat model: craft the attack on this checkpoint, keep the
            samples the target classifier gets wrong (None: white box on the target).
        unimodal, multimodal: each arm's language model, as :class:`~harlab.llm.LLMConfig`
            settings (``provider``, ``model``, ``temperature``...).
        noise_floor: extra clean draws per sample (clean vs clean spread), the baseline of the
            drift test; 2 by default (the fewest that give a spread), 0 in the paper preset
            unless set (the paper reports no noise floor).
        similarity_model: the sentence-transformers model of the semantic cosine.
        seed: the study seed (sample order, request seeds, blind orders).
    """

    name: str = "demo study"
    dataset: str = "demo"
    fold: int = 1
    checkpoint: str | None = None
    train_preset: str = "demo"
    weights: str = "auto"
    train: dict[str, Any] = field(default_factory=dict)
    allow_random_weights: bool = False
    classes: tuple[str, ...] = ("BabyCrawling", "Biking")
    per_class: int = 25
    allow_fewer: bool = False
    keyframes: int = 5
    keyframe_method: str = "uniform"
    attack: str = "fgsm"
    eps: Any = "8/255"
    attack_params: dict[str, Any] = field(default_factory=dict, metadata=_ADDED_LATER)
    surrogate: str | None = field(default=None, metadata=_ADDED_LATER)
    unimodal: dict[str, Any] = field(default_factory=lambda: {"provider": "builtin"})
    multimodal: dict[str, Any] = field(default_factory=lambda: {"provider": "builtin"})
    noise_floor: int = DEFAULT_NOISE_FLOOR
    similarity_model: str = "all-MiniLM-L6-v2"
    seed: int = 0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str) or not self.name.strip():
            raise StudyConfigError(f"name must be a non-empty text, got {short_repr(self.name)}")
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise StudyConfigError(f"dataset must be 'demo' or a folder path, got "
                                   f"{short_repr(self.dataset)}")
        check_range("fold", self.fold, 1, 3, integer=True, hint="UCF-101 has folds 1, 2, 3")
        if self.train_preset not in TRAIN_PRESETS:
            raise StudyConfigError(f"train_preset must be one of {', '.join(TRAIN_PRESETS)}, "
                                   f"got {short_repr(self.train_preset)}")
        if not isinstance(self.classes, (str, list, tuple)):  # a mapping would give its keys
            raise StudyConfigError(f"classes must be a list of class names such as "
                                   f"[BabyCrawling, Biking], got {short_repr(self.classes)}")
        classes = (self.classes,) if isinstance(self.classes, str) else tuple(self.classes)
        if classes and not all(isinstance(c, str) for c in classes):
            raise StudyConfigError(f"classes must be a list of class names such as "
                                   f"[BabyCrawling, Biking], got {short_repr(self.classes)}")
        if not classes or not all(c.strip() for c in classes):
            raise StudyConfigError(f"classes must be one or more class names, got "
                                   f"{short_repr(self.classes)}")
        set_(self, "classes", tuple(c.strip() for c in classes))
        check_positive_int(self.per_class, "per_class")
        check_positive_int(self.keyframes, "keyframes")
        if self.keyframe_method not in KEYFRAME_METHODS:
            raise StudyConfigError(f"keyframe_method must be one of "
                                   f"{', '.join(KEYFRAME_METHODS)}, got "
                                   f"{short_repr(self.keyframe_method)}")
        check_range("noise_floor", self.noise_floor, 0, 100, integer=True)
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)
        if not isinstance(self.train, dict):
            raise StudyConfigError(f"train must be a mapping of training settings such as "
                                   f"{{epochs: 5}}, got {short_repr(self.train)}")
        self.train_config()
        for arm in ("unimodal", "multimodal"):
            value = getattr(self, arm)
            if not isinstance(value, dict):
                raise StudyConfigError(f"{arm} must be a mapping of LLM settings such as "
                                       f"{{provider: openai, model: gpt-4o}}, got "
                                       f"{short_repr(value)}")
            self.llm(arm)  # validates the settings now, naming the arm
        self.attack_config()

    # ------------------------------------------------------------------ derived configs
    def llm(self, arm: str) -> LLMConfig:
        """The :class:`LLMConfig` of ``unimodal`` or ``multimodal`` (seeded by the study)."""
        values = {"seed": self.seed, **getattr(self, arm)}
        try:
            return LLMConfig.from_mapping(values)
        except InputError as exc:
            raise StudyConfigError(f"{arm}: {exc}") from exc

    def train_config(self) -> Any:
        """The :class:`~harlab.train.config.TrainConfig` of the classifier stage."""
        from harlab.train.config import TrainConfig

        preset = TrainConfig.demo if self.train_preset == "demo" else TrainConfig.paper
        try:
            return preset(**{"fold": self.fold, "weights": self.weights, "seed": self.seed,
                             **self.train})
        except TypeError as exc:
            raise StudyConfigError(f"train: {exc}; valid settings are TrainConfig's fields "
                                   "(epochs, image_size, frames_per_video, batch_size...)"
                                   ) from exc
        except InputError as exc:
            raise StudyConfigError(f"train: {exc}") from exc

    def attack_config(self, device: str = "auto") -> Any:
        from harlab.attacks.config import AttackConfig

        try:
            return AttackConfig(attack=self.attack, eps=self.eps, keyframes=self.keyframes,
                                keyframe_method=self.keyframe_method, classes=self.classes,
                                per_class=self.per_class, fold=self.fold, seed=self.seed,
                                device=device, params=dict(self.attack_params or {}),
                                surrogate=self.surrogate)
        except InputError as exc:
            raise StudyConfigError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["classes"] = list(self.classes)
        return data

    def fingerprint(self, *keys: str) -> str:
        """A hash of the named settings: what a stage depends on.

        A setting added after studies were run (``metadata=_ADDED_LATER``) is left out while
        it has its default, so a finished study does not turn stale when HARLab learns it.
        """
        data = self.to_dict()
        later = {f.name: f for f in dataclasses.fields(self) if f.metadata.get("added_later")}
        keys = tuple(k for k in keys if not (k in later and data[k] == _default(later[k])))
        return hashlib.sha256(json.dumps({k: data[k] for k in keys}, sort_keys=True,
                                         default=str).encode()).hexdigest()[:16]

    def _attack_text(self, eps: float) -> str:
        from harlab.attacks import get_spec

        spec = get_spec(self.attack)
        budget = (f"{eps * 255:.4g}/255 (L-inf, [0, 1] pixel scale)" if spec.norm == "linf"
                  else f"{eps:g} (L2 radius, [0, 1] pixel scale)")
        params = "".join(f", {k}={v}" for k, v in sorted((self.attack_params or {}).items()))
        transfer = f", crafted on surrogate {self.surrogate}" if self.surrogate else ""
        return f"{budget}; attack {spec.name}{params}{transfer}"

    def chosen_settings(self) -> dict[str, str]:
        """The settings the paper leaves open, as HARLab chose them (shown in every output)."""
        eps = self.attack_config().eps
        uni, multi = self.llm("unimodal"), self.llm("multimodal")

        def temp(cfg: LLMConfig) -> str:
            return "provider default" if cfg.temperature is None else f"{cfg.temperature:g}"

        return {
            "eps": self._attack_text(eps),
            "keyframes": f"{self.keyframes} per video, {self.keyframe_method}",
            "image size sent": "the classifier's input size (lossless PNG): "
                               + ("64 px (demo preset)" if self.train_preset == "demo"
                                  else "224 px (paper preset)"),
            "temperature": f"unimodal {temp(uni)}, multimodal {temp(multi)}",
            "max_tokens": f"unimodal {uni.max_tokens}, multimodal {multi.max_tokens}",
            "decision rule": "keyword rules in resources/decision_rules.yaml (per scenario)",
            "noise floor": self._noise_floor_text(),
            "similarity model": self.similarity_model,
        }

    def _noise_floor_text(self) -> str:
        if self.noise_floor == 0:
            return ("0 extra clean draws per sample: no drift-vs-noise-floor test (the paper "
                    "preset asks none unless noise_floor is set; the paper reports none)")
        note = "" if self.noise_floor >= 2 else "; the drift z needs at least 2"
        return (f"{self.noise_floor} extra clean draw(s) per sample, the baseline of the drift "
                f"z (z uses a std of {self.noise_floor} values{note})")

    # ------------------------------------------------------------------ presets and files
    @classmethod
    def demo(cls, **overrides: Any) -> StudyConfig:
        """The paper's protocol on the generated demo data, offline (built-in SmolLM2), with
        2 noise-floor draws per sample so the drift test has a baseline."""
        return cls(**overrides)

    @classmethod
    def paper(cls, dataset: str, **overrides: Any) -> StudyConfig:
        """The paper's protocol: UCF-101, ImageNet ResNet-18 fine-tuned, GPT-4o in both arms,
        no noise floor unless ``noise_floor`` is given (the paper has none)."""
        gpt4o = {"provider": "openai", "model": "gpt-4o", "temperature": "default",
                 "max_tokens": 1024}
        values = dict(name="paper study", dataset=dataset, train_preset="paper",
                      weights="imagenet", unimodal=dict(gpt4o), multimodal=dict(gpt4o),
                      noise_floor=0)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "study config") -> StudyConfig:
        if not isinstance(values, dict):
            raise StudyConfigError(f"{source}: expected a mapping of study settings, got "
                                   f"{type(values).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names), key=str)
        if unknown:
            raise StudyConfigError(f"{source}: unknown setting {short_repr(unknown[0])}; valid "
                                   f"settings: {', '.join(names)}")
        try:
            return cls(**values)
        except (InputError, TypeError) as exc:  # StudyConfigError is an InputError
            raise StudyConfigError(clip(f"{source}: {exc}")) from exc

    @classmethod
    def load(cls, path: str | Path) -> StudyConfig:
        """Read a study YAML file; errors name the file (and the line for YAML syntax)."""
        path = Path(path)
        text = read_yaml_text(path, "study config", error=StudyConfigError)
        values = load_yaml(text, str(path), error=StudyConfigError,
                           hint="expected 'setting: value' lines as in "
                                "resources/study_ucf101_gpt4o.yaml")
        return cls.from_dict(values if values is not None else {}, str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")
