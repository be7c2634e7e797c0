"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

Enough to test the dashboard as a person sees it: open a page, wait until Streamlit has drawn
it (it renders in the browser, over a websocket, after the page has loaded), read its text,
ask which font really drew a node (CJK glyphs, not boxes), click a button, take a screenshot.
The protocol is spoken with ``websockets`` (a dependency of Streamlit), so nothing beyond the
lock and the Debian package is needed: no driver binary, no browser download.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

WIDTH = 1440

# True once Streamlit has finished running the script and every chart has been drawn.
_SETTLED = """
(() => {
  if (!document.querySelector('[data-testid="stApp"]')) return false;
  const app = document.querySelector('[data-testid="stApp"]');
  if (app.getAttribute('data-test-script-state') === 'running') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  return charts.every(c => c.querySelector('canvas, svg'));
})()
"""


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, profile: Path, height: int = 1000) -> None:
        exe = shutil.which("chromium")
        if exe is None:
            raise BrowserError("chromium is not installed: run `make browser-deps`")
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--lang=zh-CN",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise BrowserError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        )
        self._id = 0
        self.height = height
        for domain in ("Page", "Runtime", "DOM", "CSS"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self._id:  # anything else is an event we do not follow
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def set_cookie(self, url: str, name: str, value: str) -> None:
        """A cookie for ``url``'s host, as if that host had set it (HttpOnly, SameSite=Strict)."""
        self.send(
            "Network.setCookie", url=url, name=name, value=value, httpOnly=True, sameSite="Strict"
        )

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, *needles: str, timeout: float = 60, settled: str = _SETTLED) -> str:
        """Wait until the page has settled (Streamlit's, by default: ``settled`` is the test, in
        JavaScript) and its text holds every needle; return the text."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(n in text for n in needles) and self.evaluate(settled):
                time.sleep(0.3)  # one more frame for the charts' canvases
                if self.evaluate(settled):
                    return self.text()
            time.sleep(0.25)
        missing = [n for n in needles if n not in text]
        raise BrowserError(f"page did not show {missing} within {timeout}s; it shows:\n{text}")

    def click_button(self, label: str) -> None:
        clicked = self.evaluate(
            "(() => { const b = [...document.querySelectorAll('button')]"
            f".find(b => b.innerText.includes({json.dumps(label)}));"
            " if (b) b.click(); return !!b; })()"
        )
        if not clicked:
            raise BrowserError(f"no button labelled {label!r}")

    def fill(self, selector: str, value: str) -> None:
        """Type ``value`` into the input that ``selector`` finds (as a person would: the page
        sees the value and an input event)."""
        done = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            f" e.value = {json.dumps(value)}; e.dispatchEvent(new Event('input', {{bubbles: true}}));"
            " return true; })()"
        )
        if not done:
            raise BrowserError(f"nothing matches {selector!r}")

    def choose_files(self, selector: str, paths: list[Path]) -> None:
        """Pick files in a file input, as the file chooser would."""
        root = self.send("DOM.getDocument", depth=-1)["root"]["nodeId"]
        node = self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise BrowserError(f"nothing matches {selector!r}")
        self.send("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in paths])

    def fonts_of(self, selector: str) -> dict[str, int]:
        """The fonts that really drew the text of the first node matching selector: family ->
        glyph count (a missing CJK font shows as boxes drawn by a Latin font)."""
        root = self.send("DOM.getDocument", depth=-1)["root"]["nodeId"]
        node = self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        if not node:
            raise BrowserError(f"nothing matches {selector!r}")
        fonts = self.send("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
        return {f["familyName"]: f["glyphCount"] for f in fonts}

    def screenshot(self, path: Path) -> Path:
        """The whole page, however long: Streamlit scrolls inside its main block, so the
        viewport is stretched to the content's height for the shot."""
        height = self.evaluate(
            'Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
            '[data-testid="stMainBlockContainer"], body\')].map(e => e.scrollHeight))'
        )
        height = max(self.height, min(int(height or 0) + 40, 12000))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(0.8)  # charts re-measure their container
        png = self.send("Page.captureScreenshot", format="png")["data"]
        self.send("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(png))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                with self._stack:
                    with contextlib.suppress(Exception):  # the browser may be gone already
                        self.send("Browser.close")
        finally:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
