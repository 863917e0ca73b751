"""Forms and settings from field metadata: ConfigForm and harlab.fields' reader/writer."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from harlab.attacks.config import AttackConfig
from harlab.errors import InputError
from harlab.fields import from_strings, to_strings
from harlab.llm.config import LLMConfig
from harlab.settings import AppSettings
from harlab.train.config import TrainConfig
from ui.widgets.config_form import ConfigForm

CONFIGS = (LLMConfig, TrainConfig, AttackConfig, AppSettings)


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_a_label(cls):
    missing = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("label")]
    assert missing == []


@pytest.mark.parametrize("cls", CONFIGS)
def test_form_round_trips_the_defaults(qtbot, cls):
    # eps has its own 1/255-step slider in the Attack panel: a spin box would round 8/255
    form = ConfigForm(cls, exclude=("eps",))
    qtbot.addWidget(form)
    form.set_config(cls())
    assert form.config() == cls()


def test_editor_follows_type_and_metadata(qtbot):
    form = ConfigForm(LLMConfig)
    qtbot.addWidget(form)
    editors = form.editors
    assert isinstance(editors["provider"], QComboBox)
    assert isinstance(editors["supports_images"], QComboBox)
    assert editors["supports_images"].itemText(0) == "auto"
    assert isinstance(editors["seed"], QSpinBox) and editors["seed"].specialValueText() == "none"
    assert isinstance(editors["temperature"], QLineEdit)  # may stay empty: provider default
    assert (editors["max_tokens"].minimum(), editors["max_tokens"].maximum()) == (1, 32768)
    assert isinstance(editors["timeout_s"], QDoubleSpinBox)
    train = ConfigForm(TrainConfig)
    qtbot.addWidget(train)
    assert isinstance(train.editors["flip"], QCheckBox)
    assert train.editors["lr"].decimals() == 6
    assert "range [32, 1024]" in train.editors["image_size"].toolTip()


def test_attack_subset_shows_titles_and_keeps_keys(qtbot):
    form = ConfigForm(AttackConfig, ("attack", "classes"))
    qtbot.addWidget(form)
    combo = form.editors["attack"]
    combo.setCurrentIndex(combo.findData("pgd"))
    form.editors["classes"].setText(" Biking , Diving ")
    assert form.values() == {"attack": "pgd", "classes": ("Biking", "Diving")}
    assert combo.currentText() != "pgd"  # the title is shown, the key is stored


def test_bad_number_text_names_the_field(qtbot):
    form = ConfigForm(LLMConfig)
    qtbot.addWidget(form)
    form.editors["temperature"].setText("warm")
    with pytest.raises(InputError, match="temperature must be a number or empty, got 'warm'"):
        form.config()


@pytest.mark.parametrize("config", [
    LLMConfig(temperature=None, seed=None, supports_images=True, model="m"),
    TrainConfig(lr=2e-4, flip=False, device="cuda:1"),
    AttackConfig(attack="pgd", params={"steps": 3}, classes=("A", "B"), eps=4 / 255),
    AppSettings(dataset_root="/d", device="cpu"),
])
def test_strings_round_trip(config):
    strings = to_strings(config)
    assert all(isinstance(v, str) for v in strings.values())
    assert from_strings(type(config), strings) == config


def test_yaml_values_and_field_names_are_read_too():
    config = from_strings(TrainConfig, {"epochs": 3, "flip": False, "lr": "0.001",
                                        "max_lr": 0.01})
    assert (config.epochs, config.flip, config.lr) == (3, False, 0.001)


@pytest.mark.parametrize("values, match", [
    ({"flip": "maybe"}, "flip must be true or false, got 'maybe'"),
    ({"epochs": "2.5"}, "epochs must be a whole number, got '2.5'"),
    ({"colour": "red"}, "unknown setting 'colour'; valid settings: arch, weights"),
])
def test_bad_strings_are_rejected(values, match):
    with pytest.raises(InputError, match=match):
        from_strings(TrainConfig, values)
