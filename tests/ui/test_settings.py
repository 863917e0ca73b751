"""Typed settings: the dialog is built from the dataclasses and every field round-trips."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings

from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.settings import AppSettings
from ui.context import AppContext, read_config, write_config
from ui.settings_dialog import SettingsDialog

# Every field away from its default, so a field that is dropped anywhere shows up.
CUSTOM_LLM = LLMConfig(provider="vllm", base_url="http://127.0.0.1:9000/v1", model="qwen-vl",
                       api_key_env="MY_KEY_VAR", temperature=1.25, seed=1234, max_tokens=777,
                       timeout_s=33.5, max_retries=7, backoff_s=2.5, max_backoff_s=40.0,
                       concurrency=9, image_detail="high", supports_images=True,
                       vlm_model="/m/SmolVLM-256M-Instruct-Q8_0.gguf",
                       vlm_mmproj="/m/mmproj-SmolVLM-256M-Instruct-Q8_0.gguf",
                       vlm_chat_format="llava-1-5")
CUSTOM_APP = AppSettings(dataset_root="/data/ucf", weights_file="/w/resnet18.pth",
                         device="cpu")


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def ctx(settings):
    return AppContext(settings)


def test_custom_configs_differ_from_defaults_in_every_field():
    for config in (CUSTOM_LLM, CUSTOM_APP):
        default = type(config)()
        same = [f.name for f in dataclasses.fields(config)
                if getattr(config, f.name) == getattr(default, f.name)]
        assert same == []


def test_dialog_has_an_editor_per_field(qtbot, ctx):
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    assert set(dialog.llm_editors) == {f.name for f in dataclasses.fields(LLMConfig)}
    assert set(dialog.app_editors) == {f.name for f in dataclasses.fields(AppSettings)}


@pytest.mark.parametrize("supports_images", [True, False, None])
def test_every_field_round_trips_through_the_dialog(qtbot, ctx, settings, supports_images):
    llm = dataclasses.replace(CUSTOM_LLM, supports_images=supports_images)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.set_llm_config(llm)
    dialog.set_app_settings(CUSTOM_APP)
    with qtbot.waitSignal(ctx.settings_changed):  # the dialog saves through the context
        dialog.accept()
    assert read_config(settings, LLMConfig) == llm
    assert read_config(settings, AppSettings) == CUSTOM_APP
    again = SettingsDialog(ctx)  # a reopened dialog shows what was stored
    qtbot.addWidget(again)
    assert again.llm_config() == llm and again.app_settings() == CUSTOM_APP


def test_unset_values_round_trip_as_unset(settings):
    llm = LLMConfig(temperature=None, seed=None, model=None)
    write_config(settings, llm, AppSettings())
    assert read_config(settings, LLMConfig) == llm


def test_supports_images_reaches_the_query_config(tmp_path, settings):
    ctx = AppContext(settings)
    assert ctx.llm_config().supports_images is None
    ctx.save_settings(dataclasses.replace(CUSTOM_LLM, supports_images=False))
    assert ctx.llm_config().supports_images is False and not ctx.llm_config().takes_images
    ctx.save_settings(dataclasses.replace(CUSTOM_LLM, supports_images=True))
    assert ctx.llm_config().takes_images


def test_bad_value_is_shown_and_nothing_is_stored(qtbot, ctx, settings):
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.llm_editors["base_url"].setText("ftp://nope")
    dialog.accept()
    assert "base_url must be an http(s) URL" in dialog.error_label.text()
    assert not settings.contains("llm/base_url")


def test_bad_device_is_rejected():
    with pytest.raises(InputError, match="unknown device 'gpu'; valid devices: auto, cpu, cuda"):
        AppSettings(device="gpu")


def test_stored_strings_are_the_old_format(settings):
    """Settings written before the field metadata read back the same (no migration)."""
    for key, value in {"llm/provider": "openai", "llm/seed": "", "llm/temperature": "none",
                       "llm/supports_images": "auto", "llm/max_tokens": "128.0",
                       "compute/device": "cuda:1", "data/dataset_root": "/d"}.items():
        settings.setValue(key, value)
    llm, app = read_config(settings, LLMConfig), read_config(settings, AppSettings)
    assert (llm.provider, llm.seed, llm.temperature, llm.supports_images, llm.max_tokens) == (
        "openai", None, None, None, 128)
    assert (app.device, app.dataset_root) == ("cuda:1", "/d")


def test_a_bad_stored_value_names_the_field(settings):
    settings.setValue("llm/max_retries", "many")
    with pytest.raises(InputError, match="max_retries must be a whole number, got 'many'"):
        read_config(settings, LLMConfig)
