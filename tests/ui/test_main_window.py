import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from harlab.store import Project
from ui.context import AppContext
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(AppContext(settings))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_window_shows_overview_and_status(qtbot, window):
    assert window.tabs.tabText(0) == "Overview"
    # torch is imported in a thread: about 16 s on a loaded 2-core machine
    qtbot.waitUntil(lambda: window.device_label.text() != "device: …", timeout=90000)
    assert "CPU" in window.device_label.text() or "CUDA" in window.device_label.text()
    assert not window.cancel_button.isEnabled()
    menus = [a.text() for a in window.menuBar().actions()]
    assert "&File" in menus


def test_open_project_and_recent_list(qtbot, window, tmp_path):
    Project.create(tmp_path / "proj").close()
    assert window.open_project(tmp_path / "proj")
    assert window.ctx.project is not None
    assert str(tmp_path / "proj") in window.windowTitle()
    assert window._recent()[0] == str(tmp_path / "proj")
    assert window.recent_menu.actions()[0].text() == str(tmp_path / "proj")


def test_open_non_project_shows_error_not_crash(qtbot, window, tmp_path, caplog):
    assert not window.open_project(tmp_path / "missing")
    assert window.ctx.project is None
    assert "does not exist" in caplog.text


def test_status_bar_follows_a_job(qtbot, window):
    from harlab.jobs import Progress

    def job():
        for i in range(3):
            yield Progress(i + 1, 3, f"step {i + 1}")

    with qtbot.waitSignal(window.ctx.runner.finished, timeout=5000):
        window.ctx.runner.start(job(), "demo job")
    assert window.job_label.text() == ""
    assert not window.job_progress.isVisible()


def test_closing_mid_job_is_clean(qtbot, tmp_path):
    import time

    from harlab.jobs import Progress

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(AppContext(settings))
    qtbot.addWidget(win)
    win.show()
    done = []

    def job():
        try:
            for i in range(100_000):
                time.sleep(0.01)
                yield Progress(i, 100_000)
        finally:
            done.append(True)

    with qtbot.waitSignal(win.ctx.runner.progress, timeout=5000):
        win.ctx.runner.start(job(), "endless")
    win.close()
    assert done == [True] and not win.ctx.runner.busy


def test_settings_dialog_never_stores_a_key(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-value")
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    dialog = SettingsDialog(AppContext(settings))
    qtbot.addWidget(dialog)
    dialog.key_env_edit.setText("MY_TEST_KEY")
    assert "is set" in dialog.key_status.text()
    dialog.device_combo.setCurrentText("cpu")
    dialog.accept()
    settings.sync()
    text = (tmp_path / "s.ini").read_text()
    assert "MY_TEST_KEY" in text and "sk-secret-value" not in text
    assert settings.value("compute/device") == "cpu"


def test_errors_a_panel_handles_stay_out_of_dialogs(qtbot, window):
    from harlab.errors import InputError
    from harlab.jobs import Progress

    def failing():
        yield Progress(0, 1)
        raise InputError("dataset folder /gone does not exist; choose another")

    inline = []
    with qtbot.waitSignal(window.ctx.runner.finished, timeout=5000):
        window.ctx.runner.start(failing(), "index dataset",
                                on_error=lambda m, tb: inline.append(m))
    assert inline and "does not exist" in window.statusBar().currentMessage()
    assert window.findChildren(QMessageBox) == []


def test_unhandled_job_errors_get_a_dialog(qtbot, window):
    from harlab.jobs import Progress

    def failing():
        yield Progress(0, 1)
        raise RuntimeError("disk on fire")

    with qtbot.waitSignal(window.ctx.runner.finished, timeout=5000):
        window.ctx.runner.start(failing(), "job")
    boxes = window.findChildren(QMessageBox)
    assert boxes and "disk on fire" in boxes[-1].text()
