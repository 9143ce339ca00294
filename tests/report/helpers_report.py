"""Report test helpers: a two-format pair, reading a written page back (structure, images, notes), and a
headless-Chromium check."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from s2i.skeleton import SkeletonSequence
from s2i.testing.synthetic import synthetic_ntu

#: NTU-25 joints in Kinect-v1 order (ShoulderCenter = NTU SpineShoulder): the same motion in a second format
NTU_TO_KINECT_V1 = [0, 1, 20, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def two_format_pair(seed: int = 3) -> tuple[SkeletonSequence, SkeletonSequence]:
    """A two-person synthetic NTU-25 motion and the same motion as Kinect-v1 (20 joints)."""
    j = synthetic_ntu(1, 30, 2, seed=seed)[0]
    return (SkeletonSequence(j, "ntu25", meta={"label_name": "synthetic swing"}),
            SkeletonSequence(j[:, :, NTU_TO_KINECT_V1], "kinect_v1"))


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class Page(HTMLParser):
    """Tags balanced (HTML5 void elements aside), images, section ids, notes and error paragraphs."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.images: list[dict[str, str]] = []
        self.sections: dict[str, list[str]] = {}  # section id -> its notes
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.external: list[str] = []
        self._section: str | None = None
        self._para: str | None = None
        self._text: list[str] = []
        self.feed(text)
        self.close()
        if self.stack:
            self.problems.append(f"unclosed {self.stack}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        for key in ("src", "href"):
            if re.match(r"^(https?:)?//", a.get(key, "")):
                self.external.append(a[key])
        if tag == "img":
            self.images.append(a)
        if tag == "section":
            self._section = a.get("id", "")
            self.sections[self._section] = []
        if tag == "p" and a.get("class") in ("note", "error"):
            self._para, self._text = a["class"], []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "p" and self._para is not None:
            text = "".join(self._text)
            if self._para == "error":
                self.errors.append(text)
            elif self._section is not None:
                self.sections[self._section].append(text)
            self._para = None
        if tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._para is not None:
            self._text.append(data)


def decode_data_uri(src: str) -> tuple[str, bytes]:
    m = re.match(r"^data:(image/(?:png|gif));base64,(.*)$", src, re.S)
    assert m, f"not an embedded PNG/GIF: {src[:60]}"
    return m.group(1), base64.b64decode(m.group(2), validate=True)


def open_image(data: bytes) -> Any:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


#: injected at the top of <head>: records script errors, console.error calls and failed resource loads
#: (error events do not bubble, so listen in the capture phase), then on load writes a JSON verdict into
#: <pre id="s2i-check"> for --dump-dom to print
CHECK_SCRIPT = """<script>
window.__errs = [];
window.addEventListener('error', function (e) {
  window.__errs.push(e.message ? String(e.message) : 'failed to load ' + (e.target && e.target.tagName));
}, true);
(function () { var ce = console.error; console.error = function () {
  window.__errs.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments);
}; })();
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                   .map(function (i) { return i.getAttribute('data-file') || i.alt; });
  var pre = document.createElement('pre'); pre.id = 's2i-check';
  pre.textContent = JSON.stringify({images: imgs.length, broken: broken, errors: window.__errs});
  document.body.appendChild(pre);
});
</script>"""


def chromium_check(exe: str, page: Path, screenshot: Path | None = None, timeout: float = 60) -> dict[str, Any]:
    """Load a copy of ``page`` with :data:`CHECK_SCRIPT` in headless Chromium; returns the verdict
    {images, broken, errors} (and writes a full-width screenshot when asked)."""
    probe = page.with_name(page.stem + ".check.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>\n" + CHECK_SCRIPT, 1),
                     encoding="utf-8")
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000",
           "--window-size=1280,6000", "--dump-dom"]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    try:
        out = subprocess.run([*cmd, probe.resolve().as_uri()], capture_output=True, text=True, timeout=timeout)
    finally:
        probe.unlink()
    m = re.search(r'<pre id="s2i-check">(.*?)</pre>', out.stdout, re.S)
    assert m, f"no verdict from {exe} (rc {out.returncode}): {out.stderr[-2000:]}"
    import html

    return dict(json.loads(html.unescape(m.group(1))))
