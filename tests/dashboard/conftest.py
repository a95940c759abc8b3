"""Helpers for the dashboard's tests: labctl as a process, the dashboard server, Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port_block
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless flags that work as root in a container, with nothing reaching out to the network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--window-size=1280,860")  # fmt: skip
SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS", REPO / "build" / "screenshots"))


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return (f"Debian's chromium and chromium-driver are not installed ({', '.join(missing)} "
                "missing); `make browser` installs them as root")  # fmt: skip
    return None


def labctl(*args: object, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labctl", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "160"})  # fmt: skip


class DashboardServer:
    """`labctl dashboard` as a user starts it, on a free port."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = free_port_block(1)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labctl", "dashboard", "--port", str(self.port),
             "--home", str(home)], stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self._answers, 30, "the dashboard to answer")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, f"labctl dashboard exited; see {self.log.name}"
        try:
            with urllib.request.urlopen(self.url + "api/snapshot", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; its exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by selenium through Debian's chromedriver."""
    why = chromium_missing()
    if why:
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.TemporaryDirectory(prefix="chromium-")
    options.add_argument(f"--user-data-dir={profile.name}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()
