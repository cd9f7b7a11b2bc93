"""Browser harness of the map tests and the map benchmark (no tests here): Debian's Chromium driven by Playwright.

The network is closed from inside the browser: every request to a host other than the test server is
aborted and recorded, so a page that would reach a CDN or a tile server fails its test. Playwright's own
browser download is never used (``executable_path`` points at the system Chromium).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CHROMIUM = os.environ.get("ECOZONE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not shutil.which(CHROMIUM) and not os.path.isfile(CHROMIUM):
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set ECOZONE_CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install playwright (never 'playwright install')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    """Run an ASGI app with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Watch:
    """What a page did that a test asserts on."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("file", "data", "blob", "about") or parts.hostname in ("127.0.0.1", "localhost")


@contextmanager
def browser():
    """A headless Chromium (the system's), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def page(chromium, viewport=(1280, 800)):
    """A fresh page whose non-loopback requests are aborted and recorded; yields (page, watch)."""
    context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block")
    watch = Watch()

    def route(route):
        url = route.request.url
        watch.requests.append(url)
        if _local(url):
            route.continue_()
        else:
            watch.blocked.append(url)
            route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda message: message.type == "error" and watch.console_errors.append(message.text))
    tab.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    try:
        yield tab, watch
    finally:
        context.close()
