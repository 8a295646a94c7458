"""A real headless Chromium against a live idx-server with idx-web: log in, search, read a
project and a release, copy the install command, yank the release.

Screenshots go to test-artifacts/web/; with IDX_WEB_DOCS_SCREENSHOTS=1 the main pages are
also written to docs/web/ (how the documentation's pictures are made).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from idx_server.app import build_core, initialize, make_app
from idx_server.plugins import get_plugin_manager
from idx_server.settings import Settings
from idx_server.testing import (
    ROOT_PASSWORD,
    UNREACHABLE_UPSTREAM,
    LiveServer,
    Mapp,
    Project,
    make_wheel,
    start_server,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[4]
ARTIFACTS = REPO / "test-artifacts" / "web"
DOCS = REPO / "docs" / "web"

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
    ),
    pytest.mark.slow,
]

README = """# greeting

Says hello, politely.

```python
from greeting import hello
hello("world")
```

| option | meaning |
| ------ | ------- |
| `loud` | shout it |
"""


def populate(serverdir: Path) -> None:
    """Users, indexes and releases, written in process before the server starts."""
    import webtest

    settings = Settings(serverdir=serverdir, root_password=ROOT_PASSWORD, mirror_url=UNREACHABLE_UPSTREAM)
    core = build_core(settings, get_plugin_manager(load_entrypoints=False))
    initialize(core)
    try:
        mapp = Mapp(webtest.TestApp(make_app(core)), core)
        mapp.create_and_login_user("alice", "secret")
        mapp.create_index("dev", title="Development", description="Alice's team builds")
        mapp.create_index("prod", title="Production", bases=["alice/dev"], volatile=False)
        for version in ("0.9", "1.0", "1.1rc1"):
            summary = "Says hello, politely"
            wheel = make_wheel(Project("greeting", version, summary=summary, description=README))
            mapp.upload("alice/dev", wheel)
        mapp.upload("alice/dev", make_wheel(Project("farewell", "2.0", summary="Says goodbye")))
        links = mapp.get_json("/alice/dev/greeting/1.0").json["result"]["+links"]
        result = {
            "reportversion": "1",
            "host": "ci-runner",
            "platform": "linux",
            "testenvs": {
                "py311": {
                    "python": {"version": "3.11.7"},
                    "test": [{"command": ["pytest"], "retcode": 0, "output": "3 passed"}],
                },
                "py312": {
                    "python": {"version": "3.12.1"},
                    "test": [{"command": ["pytest"], "retcode": 1, "output": "1 failed"}],
                },
            },
        }
        mapp.app.post(links[0]["href"].replace("http://localhost", ""), json.dumps(result))
        core.events.wait(10)
    finally:
        core.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    serverdir = tmp_path_factory.mktemp("web-e2e") / "server"
    populate(serverdir)
    live = start_server(serverdir, "--mirror-url", UNREACHABLE_UPSTREAM)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


def screenshot(driver: Any, name: str, docs: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The whole page, not just the window: size the window to the document first.
    width = driver.get_window_size()["width"]
    for _ in range(2):  # a taller window can change the layout's height once more
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height + 140, 600), 5000))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    if docs and os.environ.get("IDX_WEB_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS / f"{name}.png")
    driver.set_window_size(width, 1000)


def find(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def find_link(driver: Any, text: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.LINK_TEXT, text)


def wait_for(driver: Any, condition: Any, timeout: float = 10) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def test_browse_search_copy_and_yank(server: LiveServer, driver: Any) -> None:
    base = server.url
    driver.get(base + "/")
    assert "alice/dev" in driver.page_source
    screenshot(driver, "root", docs=True)

    # Log in (the link carries the page to come back to).
    find_link(driver, "Log in").click()
    find(driver, "#username").send_keys("alice")
    find(driver, "#password").send_keys("secret")
    find(driver, "form.login button[type=submit]").click()
    wait_for(driver, lambda d: "Logged in as" in d.page_source)

    driver.get(base + "/alice/dev")
    screenshot(driver, "index", docs=True)

    # Search from the header box.
    box = find(driver, "#site-q")
    box.send_keys("politely")
    box.submit()
    wait_for(driver, lambda d: "/+search" in d.current_url)
    assert "greeting" in driver.page_source
    screenshot(driver, "search", docs=True)

    find_link(driver, "greeting").click()
    wait_for(driver, lambda d: d.current_url.endswith("/alice/dev/greeting"))
    assert "1.1rc1" in driver.page_source
    screenshot(driver, "project", docs=True)

    find_link(driver, "1.0").click()
    wait_for(driver, lambda d: d.current_url.endswith("/alice/dev/greeting/1.0"))
    assert "3 passed" in driver.page_source or "py311" in driver.page_source
    assert find(driver, ".readme table") is not None  # the README's table, rendered

    # Copy the install command: the button appears with JavaScript and reports back.
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    button = find(driver, "button[data-copy=install-pip]")
    assert button.is_displayed()
    button.click()
    wait_for(driver, lambda d: button.text == "Copied")
    copied = driver.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('error: ' + e));"
    )
    assert copied == f"pip install --index-url {base}/alice/dev/+simple/ greeting==1.0"
    screenshot(driver, "release", docs=True)

    # Yank it.
    find(driver, "#yank-reason").send_keys("wrong greeting")
    find(driver, "form[action$='/+yank'] button").click()
    wait_for(driver, lambda d: "The release was yanked" in d.page_source)
    assert "Unyank 1.0" in driver.page_source
    screenshot(driver, "release-yanked")
    with urllib.request.urlopen(
        urllib.request.Request(base + "/alice/dev/greeting/1.0", headers={"Accept": "application/json"}),
        timeout=10,
    ) as response:
        links = json.load(response)["result"]["+links"]
    assert links[0]["yanked"] == "wrong greeting"

    # The same release on a phone-sized screen.
    driver.set_window_size(390, 844)
    driver.get(base + "/alice/dev/greeting/1.0")
    overflow = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow, "the page scrolls sideways on a narrow screen"
    screenshot(driver, "release-narrow")
    driver.set_window_size(1280, 1000)
