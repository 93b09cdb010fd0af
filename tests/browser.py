"""Headless Chromium for the page tests: the flags this machine needs, and measuring a page laid
out at an exact width (headless windows are at least 500 px wide, so the page is measured in an
iframe of that width and its findings come back by postMessage into the host page that
--dump-dom prints)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOST = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="border:0;width:{width}px;height:900px"></iframe><pre id="metrics"></pre>
<script>window.addEventListener("message", e => {{ document.getElementById("metrics").textContent = e.data; }});</script>
</body></html>"""


def measure(html: str, width: int, tmp_path: Path, script: str) -> dict:
    """Lay ``html`` out at ``width`` px and return what ``script`` (a <script> that posts a JSON
    string to its parent) measured. The pages run no script of their own (their CSP forbids it):
    the measured copy drops the CSP and carries ``script`` before </body>."""
    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace("</body>", script + "</body>"),
                     encoding="utf-8")
    host = tmp_path / f"host-{width}.html"
    host.write_text(HOST.format(src=probe.name, width=width), encoding="utf-8")
    dom = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width + 100},1000",
                          "--virtual-time-budget=5000", "--dump-dom", host.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    found = re.search(r'<pre id="metrics">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), f"the measuring script did not run: {dom[:300]}"
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))
