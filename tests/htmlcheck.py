"""HTML checks shared by the report tests: parse pages, never grep them."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "poster", "srcset", "background")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def live_markup(page: str, marker: str | None = None) -> list[str]:
    """What in a page could run or load something: event handlers, javascript: URLs, scripts, frames.

    ``marker``: only report scripts whose text contains it (the page's own
    inline scripts are allowed); everything else is reported always.
    Images must be embedded PNG charts (``data:image/png``).
    """
    soup = BeautifulSoup(page, "html.parser")
    problems = []
    for element in soup.find_all(True):
        for name, value in element.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on"):
                problems.append(f"<{element.name} {name}={text[:60]!r}>")
            if name.lower() in URL_ATTRIBUTES and re.sub(r"[\s\x00-\x1f]", "", text).lower().startswith(
                ("javascript:", "vbscript:", "data:text")
            ):
                problems.append(f"<{element.name} {name}={text[:60]!r}>")
        if element.name == "img" and not str(element.get("src", "")).startswith("data:image/png;base64,"):
            problems.append(f"<img src={str(element.get('src'))[:60]!r}>")
        if element.name == "script" and (marker is None or marker in element.get_text()):
            problems.append(f"<script>{element.get_text()[:60]!r}")
        if element.name in ("iframe", "object", "embed", "form", "base") and (marker is None or marker in str(element)):
            problems.append(f"<{element.name}>")
        if element.name in ("svg", "math", "style", "link") and marker is not None and marker in str(element):
            problems.append(f"<{element.name}> with data in it")
    return problems


def index_rows(page: str) -> dict[str, dict[str, str]]:
    """Rows of ``index.html`` by notebook name: column header → cell text (whitespace collapsed)."""
    soup = BeautifulSoup(page, "html.parser")
    table = soup.find("table")
    headers = [th.get_text(" ", strip=True) for th in table.find("tr").find_all("th")]
    rows = {}
    for tr in table.find_all("tr")[1:]:
        cells = tr.find_all("td")
        name = cells[0].find("small").get_text(strip=True)
        rows[name] = {h: " ".join(c.get_text(" ", strip=True).split()) for h, c in zip(headers, cells)}
        link = cells[0].find("a")
        rows[name]["link"] = link["href"] if link else ""
    return rows


def sans_timestamps(page: str) -> str:
    """A page with its build times blanked, to compare two builds of the same inputs."""
    return TIMESTAMP.sub("<time>", page)
