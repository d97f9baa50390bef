"""Reads what headless Chromium saw of the status page, for tests/cases/status_page.rs.

  status_dom.py dom FILE          the DOM Chromium dumped → JSON: credential rows with their
                                  status text, timeline marks, the SVG's axis, anything that
                                  would load from elsewhere
  status_dom.py netlog FILE SITE  Chromium's NetLog → JSON list of the URLs requested on behalf
                                  of pages of SITE (e.g. http://127.0.0.1); the browser's own
                                  background requests belong to no page and are left out

Only the standard library, so that the test needs nothing but python3.
"""

import json
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []
        self.marks = []
        self.svg = None
        self.now = None
        self.loads = []
        self.scripts = 0
        self.style_attributes = 0
        self.stack = []
        self.row = None
        self.in_status = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.stack.append(tag)
        if tag == "script":
            self.scripts += 1
        if "style" in a:
            self.style_attributes += 1
        for key in ("src", "href", "srcset", "data", "poster", "action"):
            value = a.get(key)
            if value is not None and not value.startswith("data:") and not value.startswith("#"):
                self.loads.append(f"{tag} {key}={value}")
        if tag == "tr" and "data-credential" in a:
            self.row = {"credential": a["data-credential"], "class": a.get("class", ""), "status": ""}
            self.rows.append(self.row)
        if tag == "td" and self.row is not None and "status" in a.get("class", "").split():
            self.in_status = True
        if tag == "svg" and "timeline" in a.get("class", "").split():
            self.svg = {k: float(a[k]) for k in ("data-start", "data-end", "data-x0", "data-x1")}
        if tag == "circle" and "mark" in a.get("class", "").split():
            self.marks.append(
                {"credential": a["data-credential"], "cx": float(a["cx"]), "expires": int(a["data-expires"])}
            )
        if tag == "line" and "now" in a.get("class", "").split():
            self.now = {"x": float(a["x1"]), "at": int(a["data-now"])}

    def handle_endtag(self, tag):
        if tag == "td":
            self.in_status = False
        if tag == "tr":
            self.row = None
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if self.in_status and self.row is not None:
            self.row["status"] += data.strip()
        if self.stack and self.stack[-1] == "style" and "url(" in data:
            self.loads.append("style url(")


def dom(path):
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    print(json.dumps({
        "rows": page.rows,
        "marks": page.marks,
        "svg": page.svg,
        "now": page.now,
        "loads": page.loads,
        "scripts": page.scripts,
        "style_attributes": page.style_attributes,
    }))


def netlog(path, site):
    with open(path, encoding="utf-8") as f:
        log = json.load(f)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        if names.get(event["type"]) != "URL_REQUEST_START_JOB":
            continue
        params = event.get("params", {})
        # "TOP-FRAME-SITE FRAME-SITE": requests a page of SITE made.
        if params.get("network_isolation_key", "").split(" ")[0] == site:
            urls.append(params["url"])
    print(json.dumps(urls))


if __name__ == "__main__":
    if sys.argv[1] == "dom":
        dom(sys.argv[2])
    else:
        netlog(sys.argv[2], sys.argv[3])
