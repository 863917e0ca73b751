"""The Attack tab's parameter row: rebuilt from the chosen attack's registry spec."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

from harlab.attacks import ATTACK_TITLES
from harlab.errors import InputError
from ui.widgets.attack_params import AttackParamsForm


@pytest.fixture
def form(qtbot):
    combo = QComboBox()
    for name, title in ATTACK_TITLES.items():
        combo.addItem(title, name)
    widget = AttackParamsForm(combo)
    qtbot.addWidget(combo)
    qtbot.addWidget(widget)
    return combo, widget


def test_row_follows_the_chosen_attack(qtbot, form):
    combo, widget = form
    assert widget.spec.name == "fgsm" and widget.editors == {}
    with qtbot.waitSignal(widget.changed):
        combo.setCurrentIndex(combo.findData("pgd"))
    assert list(widget.editors) == ["steps", "alpha", "random_start"]
    assert isinstance(widget.editors["random_start"], QCheckBox)
    assert widget.editors["steps"].text() == "10" and widget.params() == {}
    combo.setCurrentIndex(combo.findData("deepfool"))
    assert "overshoot" in widget.editors and widget.note.text() == "eps is an L2 radius"


def test_params_are_typed_and_only_the_changed_ones(form):
    combo, widget = form
    combo.setCurrentIndex(combo.findData("pgd"))
    widget.editors["steps"].setText("3")
    widget.editors["alpha"].setText("1/255")
    widget.editors["random_start"].setChecked(False)
    assert widget.params() == {"steps": 3, "alpha": pytest.approx(1 / 255),
                               "random_start": False}
    widget.set_params({})
    assert widget.params() == {}
    widget.set_params({"steps": 7})
    assert isinstance(widget.editors["steps"], QLineEdit) and widget.params() == {"steps": 7}


def test_bad_text_names_the_parameter(form):
    combo, widget = form
    combo.setCurrentIndex(combo.findData("mifgsm"))
    widget.editors["decay"].setText("fast")
    with pytest.raises(InputError, match="'decay' must be a number"):
        widget.params()


def test_panel_config_carries_the_parameters(qtbot, ctx):
    from ui.panels.attack_panel import AttackPanel

    panel = AttackPanel(ctx)
    qtbot.addWidget(panel)
    panel.attack_combo.setCurrentIndex(panel.attack_combo.findData("bim"))
    panel.attack_params.editors["steps"].setText("4")
    config = panel.config()
    assert config.attack == "bim" and config.params == {"steps": 4}
