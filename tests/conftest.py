"""Fixtures shared by the test files."""
import pytest

from browser import start_chromium


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """A real headless browser (see tests/browser.py); skips where there is none."""
    driver = start_chromium(tmp_path / "profile", monkeypatch)
    yield driver
    driver.quit()
