"""A headless browser for the lab tests, without selenium: Debian's Chromium
(packages chromium, chromium-driver on the admin box) driven over its
DevTools protocol through a websocket (aiohttp, which Salt already needs).

Enough to log into Horizon the way a person does (the login page's form,
its CSRF token, its cookies, its JavaScript) and to look at a page:

    with Browser(ca_file=lab_secrets.ca_file()) as browser:
        browser.open("https://10.77.0.10/horizon/auth/login/")
        browser.fill({"#id_username": "admin", "#id_password": pw})
        browser.submit("#loginBtn")
        browser.open("https://10.77.0.10/horizon/project/instances/")
        text = browser.text()
        browser.screenshot(path)

The VIP's https is verified, not ignored: ``ca_file`` (a PEM CA certificate,
the site CA's) goes into an NSS database of the browser's own temporary HOME
(``$HOME/.pki/nssdb``, where Chromium on Linux reads the CAs a user trusts),
made with NSS's ``certutil`` (Debian's libnss3-tools, which bin/bootstrap
installs).

By hand, from the checkout: python -m tests.lab.browser [BASE [SERVER ...]]
(logs into the lab's Horizon as admin, opens the instances page, prints what
it saw and writes artifacts/horizon-instances.png).
"""

import asyncio
import base64
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import aiohttp

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
BINARIES = ("chromium", "chromium-browser", "google-chrome")
CA_NICKNAME = "twin-cloud-site-ca"


class BrowserError(AssertionError):
    """The browser could not do what was asked (says what it saw)."""


def chromium():
    """The Chromium binary on this machine (bin/bootstrap installs Debian's)."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError(f"no Chromium on this machine ({', '.join(BINARIES)}): "
                       "apt-get install chromium chromium-driver")


def trusting_home(home, ca_file):
    """Make ``home`` a HOME whose NSS database (``.pki/nssdb``, Chromium's on
    Linux) trusts the CA certificate (PEM) at ``ca_file`` to identify web
    servers; returns ``home``."""
    certutil = shutil.which("certutil")
    if not certutil:
        raise BrowserError("no certutil on this machine, to make Chromium trust the site CA: "
                           "apt-get install libnss3-tools (bin/bootstrap installs it)")
    nssdb = pathlib.Path(home) / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, mode=0o700)
    for args in (["-N", "--empty-password"],
                 ["-A", "-t", "C,,", "-n", CA_NICKNAME, "-a", "-i", str(ca_file)]):
        result = subprocess.run([certutil, "-d", f"sql:{nssdb}", *args], text=True,
                                capture_output=True, timeout=60, check=False)
        if result.returncode != 0:
            raise BrowserError(f"certutil {' '.join(args)} failed ({result.returncode}): "
                               f"{result.stdout}{result.stderr}")
    return home


class Browser:
    """One headless Chromium with one page; every call waits for its answer.
    ``ca_file``: a CA certificate (PEM) the browser trusts for https (the site
    CA's, for the VIP), besides the usual ones."""

    def __init__(self, timeout=60, width=1366, height=900, ca_file=None):
        self.timeout = timeout
        self.size = (width, height)
        self.ca_file = ca_file
        self._loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self._events = []
        self._process = None
        self._profile = None
        self._http = None
        self._ws = None

    # --- lifecycle -------------------------------------------------------------

    def __enter__(self):
        try:
            self._run(self._start())
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    async def _start(self):
        self._profile = tempfile.mkdtemp(prefix="twin-cloud-chromium-")
        env = None
        if self.ca_file:  # the browser's own HOME, whose NSS database trusts the CA
            home = trusting_home(pathlib.Path(self._profile) / "home", self.ca_file)
            env = dict(os.environ, HOME=str(home))
        args = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--password-store=basic",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            f"--window-size={self.size[0]},{self.size[1]}", "about:blank",
        ]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, env=env,
                                         stderr=subprocess.PIPE, start_new_session=True)
        port_file = pathlib.Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace")[-2000:]
                raise BrowserError(f"chromium exited ({self._process.returncode}): {err}")
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium opened no DevTools port in {self.timeout}s")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise BrowserError(f"chromium has no page target: {targets}")
        self._ws = await self._http.ws_connect(pages[0]["webSocketDebuggerUrl"],
                                               max_msg_size=0)
        for domain in ("Page", "Runtime", "Network"):
            await self._call(f"{domain}.enable")

    def close(self):
        if self._ws is not None or self._http is not None:
            try:
                self._run(self._stop())
            except Exception:  # pylint: disable=broad-except
                pass
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None
        if not self._loop.is_closed():
            self._loop.close()

    async def _stop(self):
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # --- the protocol ------------------------------------------------------------

    def _run(self, coro):
        return self._loop.run_until_complete(asyncio.wait_for(coro, self.timeout * 2))

    async def _receive(self):
        msg = await asyncio.wait_for(self._ws.receive(), self.timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise BrowserError(f"DevTools connection ended ({msg.type})")
        return json.loads(msg.data)

    async def _call(self, method, **params):
        ident = next(self._ids)
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            data = await self._receive()
            if data.get("id") == ident:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self._events.append(data)

    async def _wait_event(self, method, since):
        """The first event ``method`` after index ``since`` of the events seen."""
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self._events[since:]:
                if event["method"] == method:
                    return event
            if time.monotonic() > deadline:
                raise BrowserError(f"no {method} within {self.timeout}s")
            data = await self._receive()
            if "method" in data:
                self._events.append(data)

    async def _evaluate(self, expression):
        result = await self._call("Runtime.evaluate", expression=expression,
                                  returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    # --- what a test does --------------------------------------------------------

    def open(self, url):
        """Go to ``url`` and wait until the page has loaded; returns the HTTP status
        of the main document (after redirects)."""
        async def go():
            since = len(self._events)
            result = await self._call("Page.navigate", url=url)
            if result.get("errorText"):
                raise BrowserError(f"{url}: {result['errorText']}")
            await self._wait_event("Page.loadEventFired", since)
            return self._document_status(since)
        return self._run(go())

    def _document_status(self, since):
        status = None
        for event in self._events[since:]:
            if (event["method"] == "Network.responseReceived"
                    and event["params"].get("type") == "Document"):
                status = event["params"]["response"]["status"]
        return status

    def fill(self, fields):
        """Type ``{css selector: value}`` into the page's inputs."""
        for selector, value in fields.items():
            found = self._run(self._evaluate(
                f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                f" if (!e) return false; e.focus(); e.value = {json.dumps(value)};"
                " e.dispatchEvent(new Event('input', {bubbles: true}));"
                " e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"))
            if not found:
                raise BrowserError(f"no {selector} on {self.url()}")

    def submit(self, selector):
        """Click ``selector`` (a submit button) and wait for the next page to load;
        returns its HTTP status."""
        async def go():
            since = len(self._events)
            clicked = await self._evaluate(
                f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                " if (!e) return false; e.click(); return true; })()")
            if not clicked:
                raise BrowserError(f"no {selector} to click")
            await self._wait_event("Page.loadEventFired", since)
            return self._document_status(since)
        return self._run(go())

    def url(self):
        return self._run(self._evaluate("location.href"))

    def text(self):
        """The visible text of the page."""
        return self._run(self._evaluate("document.body ? document.body.innerText : ''"))

    def evaluate(self, expression):
        return self._run(self._evaluate(expression))

    def screenshot(self, path):
        """Save a PNG of the whole page at ``path``; returns the path."""
        async def go():
            result = await self._call("Page.captureScreenshot", format="png",
                                      captureBeyondViewport=True)
            return base64.b64decode(result["data"])
        png = self._run(go())
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path


def horizon_instances(base, username, password, servers=(), screenshot=None,
                      timeout=120, ca_file=None):
    """Log into the Horizon at ``base`` (e.g. https://VIP/horizon; ``ca_file``:
    the CA certificate, PEM, that the browser trusts for it) with the login
    form and open the instances page. Returns ``{login_url, login_status,
    after_login, status, url, text, rows, missing, screenshot}``: ``rows`` are
    the instances table's rows (their cells' texts), ``missing`` the ``servers``
    it does not list (a server is listed when a cell of a row of the table is its name)."""
    base = base.rstrip("/")
    with Browser(timeout=timeout, ca_file=ca_file) as browser:
        login_status = browser.open(f"{base}/auth/login/")
        browser.fill({"#id_username": username, "#id_password": password})
        browser.submit("#loginBtn")
        after_login = browser.url()
        status = browser.open(f"{base}/project/instances/")
        url = browser.url()
        text = browser.text()
        # each row of the instances table as its cells' texts (the name is one)
        cells = browser.evaluate(
            "Array.from(document.querySelectorAll('table#instances tbody tr'))"
            ".filter(r => !r.classList.contains('empty'))"
            ".map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))")
        shot = browser.screenshot(screenshot) if screenshot else None
    return {
        "login_url": f"{base}/auth/login/",
        "login_status": login_status,
        "after_login": after_login,
        "status": status,
        "url": url,
        "text": text,
        "rows": [[c for c in row if c] for row in cells or []],
        "missing": [s for s in servers if not any(s in row for row in cells or [])],
        "screenshot": str(shot) if shot else None,
    }


def main(argv):
    """python -m tests.lab.browser [BASE [SERVER ...]]: log into the lab's Horizon
    (default https://10.77.0.10/horizon, verified with the site CA) as admin
    (password from the lab's secrets file) and list the instances page."""
    from lab import secrets as lab_secrets  # pylint: disable=import-outside-toplevel

    base = argv[1] if len(argv) > 1 else "https://10.77.0.10/horizon"
    servers = argv[2:]
    password = lab_secrets.load()["keystone_admin_password"]
    seen = horizon_instances(base, "admin", password, servers,
                             screenshot=ARTIFACTS / "horizon-instances.png",
                             ca_file=lab_secrets.ca_file())
    seen.pop("text")
    print(json.dumps(seen, indent=2))
    return 0 if not seen["missing"] and "/auth/login" not in seen["url"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
