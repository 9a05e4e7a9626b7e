"""UI tests run on Xvfb (pytest-xvfb) with the app's own start-up order."""

import pytest


@pytest.fixture(scope="session")
def qapp():
    """The QApplication made the way the app makes it (GL format first)."""
    from lossviewer.app import create_application

    return create_application(["lossviewer-tests"])
