"""Debian's Chromium driven headless through its ChromeDriver, for the widget and the desk; screenshots go
to tests/artifacts (git-ignored) and, for the desk's documentation, to bench/results."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).parent / "artifacts"
AXE = Path(__file__).parents[1] / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def chromium(tmp_path: Path, width: int = 1100, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--window-size={width},{height}", f"--user-data-dir={tmp_path / 'chrome'}"):  # fmt: skip
        opts.add_argument(arg)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=opts)


@contextmanager
def browsing(tmp_path: Path, wait_s: float = 60, width: int = 1100, height: int = 900) -> Iterator[tuple[Any, Any]]:
    """Chromium and a wait of `wait_s` seconds on it; the browser quits afterwards, whatever happened."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(tmp_path, width, height)
    try:
        yield driver, WebDriverWait(driver, wait_s)
    finally:
        driver.quit()


def serious_violations(driver: Any) -> list[str]:
    """axe-core's serious and critical accessibility violations on the page as it stands."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => [v.impact, v.id, v.nodes.length])));"
    )
    return [f"{impact} {rule} ({n} elements)" for impact, rule, n in found if impact in ("serious", "critical")]
