"""UI tests run on Xvfb (pytest-xvfb) with the app's own start-up order."""

import pytest


@pytest.fixture(scope="session")
def qapp():
    """The QApplication made the way the app makes it (GL format first)."""
    from lossviewer.app import create_application

    return create_application(["lossviewer-tests"])


@pytest.fixture
def window(qtbot):
    """The main window with the default scene, computed (playback still running)."""
    from lossviewer.ui.main_window import MainWindow

    w = MainWindow(persist_layout=False)
    w.resize(1400, 850)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.ready, timeout=30_000)
    return w


@pytest.fixture
def finished_window(window, qtbot):
    """The main window at the last step, playback stopped."""
    window.scene.set_playback(frame=window.scene.max_steps, playing=False)
    qtbot.wait(50)
    return window
