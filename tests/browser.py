"""A real headless browser for the tests: Debian's chromium driven by Selenium through its
own chromedriver, with nothing downloaded (the ``browser`` fixture of tests/conftest.py)."""
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

BOX = "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
"""JavaScript for the browser: the rendered box of an element, [left, top, width, height]."""


def start_chromium(profile, monkeypatch, size=(1100, 1000)):
    """A headless chromium with its profile in ``profile``; skips (with the reason) where
    selenium, chromium or chromedriver is missing (.ci/run installs them)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium or chromedriver is not installed (apt-get install chromium chromium-driver)")
    monkeypatch.setenv("SE_OFFLINE", "true")   # Selenium Manager must not fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver
