"""HTML of the reports: one offline page per executed notebook, and the folder's index.

The report header and the index are Jinja2 templates with autoescape on, so
every value from data or parameters is escaped by construction; HTML built by
:mod:`engagement_utils.display` (already escaped) is passed in as ``Markup``.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nbformat
from jinja2 import DictLoader, Environment
from markupsafe import Markup
from nbconvert import HTMLExporter

from ..display import KEY_NUMBERS_METADATA, KEY_NUMBERS_TITLE_METADATA, SKIPPED_SECTIONS, key_numbers_html
from .config import notebook_title

__all__ = [
    "FONT_STACK",
    "IndexEntry",
    "key_number_blocks",
    "parameter_value",
    "redact_message",
    "remote_resources",
    "render_html",
    "render_index",
    "set_chart_alt_text",
]

FONT_STACK = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
    '"Liberation Sans", "DejaVu Sans", sans-serif'
)
"""The reports' own sans-serif font stack (no web fonts: reports are read offline)."""

# Cells that are plumbing, not content: the parameter cells, and the
# conventional "remove-cell"/"remove-output" tags for notebook authors.
_DROPPED_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell"}
_DROPPED_OUTPUT_TAGS = {"remove-output"}
# A markdown cell tagged "section:<name>" (one tag per section it introduces) is left out when
# the run skipped all of them (the "Skipped sections" key number): it would head nothing.
SECTION_TAG = "section:"

_REMOTE_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe|embed|object|source|audio|video)\b[^>]*?"
    r"\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//[^\s\"'>]*"
    r"|@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//[^\s\"')]*"
    r"|url\(\s*[\"']?\s*(?:https?:)?//[^\s\"')]*",
    re.IGNORECASE,
)
_NBCONVERT_ALT = 'alt="No description has been provided for this image"'
_HEADING_OR_IMAGE = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>|" + re.escape(_NBCONVERT_ALT), re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Tokens with 3+ digits (u0042, 17850, 2024-01-31) may be user ids or other data values.
_QUOTED_WITH_DIGITS = re.compile(r"""(['"])(?=[^'"\n]*\d[^'"\n]*\d[^'"\n]*\d)[^'"\n]*\1""")
_TOKEN_WITH_DIGITS = re.compile(r"[\w.:@+-]*\d[\w.:@+-]*\d[\w.:@+-]*\d[\w.:@+-]*")

_CSS = f"""
:root {{ --jp-content-font-family: {FONT_STACK}; --jp-ui-font-family: {FONT_STACK}; }}
body, .jp-Notebook {{ font-family: {FONT_STACK}; color: #222; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 0 12px; box-sizing: border-box; }}
.engagement-report-header {{ padding: 1em 0 0.5em; border-bottom: 1px solid #ddd; margin-bottom: 1em; }}
.engagement-report-header .kicker, .engagement-report-header .build {{ color: #555; font-size: 0.9em; }}
.engagement-report-header .title {{ font-size: 1.6em; font-weight: 600; margin: 0.2em 0; }}
.engagement-report-header code {{ font-size: 0.9em; }}
.engagement-table-wrap {{ max-width: 100%; overflow-x: auto; }}
.jp-RenderedHTMLCommon table.engagement-table {{ font-size: 12px; table-layout: auto; max-width: 100%;
  margin-left: 0; margin-right: 0; }}
.jp-RenderedHTMLCommon table.engagement-table th {{ white-space: normal; overflow-wrap: normal;
  vertical-align: bottom; min-width: 3.5em; }}
.jp-RenderedHTMLCommon table.engagement-table td {{ overflow-wrap: break-word; white-space: normal; }}
.jp-RenderedHTMLCommon table.engagement-table td.num, .jp-RenderedHTMLCommon table.engagement-table th.num {{
  text-align: right; font-variant-numeric: tabular-nums; }}
.jp-RenderedHTMLCommon table.engagement-table td.text, .jp-RenderedHTMLCommon table.engagement-table th.text {{
  text-align: left; }}
.jp-RenderedImage img, .jp-OutputArea-output img {{ max-width: 100%; height: auto; }}
"""

# The JupyterLab template minus everything it fetches from a CDN (require.js,
# MathJax, Mermaid, widget manager), so reports read the same offline.
_REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style type="text/css">{{ resources.engagement_css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.engagement_header }}
{%- endblock body_header -%}
"""

_HEADER_TEMPLATE = """<header class="engagement-report-header">
<div class="kicker">Engagement report · notebook {{ name }}</div>
<div class="title">{{ title }}</div>
{%- if built_at or fingerprint %}
<div class="build">{% if built_at %}Built {{ built_at }}{% endif %}
{%- if fingerprint %} · inputs fingerprint <code>{{ fingerprint }}</code>{% endif %}
{%- if sources %} · data: {% for s in sources %}<code>{{ s }}</code>{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}</div>
{%- endif %}
{{ numbers }}
{%- if declared %}
<details style="margin:0.5em 0"><summary>Parameters ({{ n_set }} set for this run, {{ n_default }} defaults)</summary>
<table style="margin-top:0.4em"><tr><th>Name</th><th>Value</th><th></th></tr>
{%- for row in rows %}
<tr><td><code>{{ row.name }}</code></td><td><code>{{ row.value }}</code></td><td>{{ row.origin }}</td></tr>
{%- endfor %}
</table></details>
{%- endif %}
</header>"""

_INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Engagement reports</title>
<style>
body { font-family: {{ font_stack }}; margin: 2em auto; max-width: 1180px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 0.5em; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: #f5f5f5; }
.ok { color: #1a7f37; font-weight: 600; }
.failed { color: #c62828; font-weight: 600; }
.earlier { color: #555; font-weight: 600; }
.stale { color: #b45309; font-weight: 600; }
ul { margin: 0; padding-left: 1.2em; }
code { font-size: 0.9em; }
small { color: #555; }
</style>
</head>
<body>
<h1>Engagement reports</h1>
<p>{{ status }}.{% if run_at %} Latest run: {{ run_at }}.{% endif %}</p>
<table>
<tr><th>Report</th><th>Status</th><th>Built</th><th>Data and fingerprint</th><th>Key numbers</th><th>Parameters</th></tr>
{%- for e in entries %}
<tr><td>{% if e.href %}<a href="{{ e.href }}">{{ e.title }}</a>{% else %}{{ e.title }}{% endif %}<br><small>{{ e.name }}</small></td>
<td><span class="{{ e.css_class }}">{{ e.status_label }}</span>
{%- if e.note %}<br><small>{{ e.note }}</small>{% endif %}
{%- if e.failure %}<br>{{ e.failure }}{% endif %}
{%- if e.failed_notebook_href %}<br><small>executed notebook: <a href="{{ e.failed_notebook_href }}">{{ e.failed_notebook_label }}</a></small>{% endif %}</td>
<td>{{ e.built_at or "–" }}</td>
<td>{% for s in e.sources %}<code>{{ s }}</code><br>{% endfor %}{% if e.fingerprint %}<small>fingerprint</small> <code>{{ e.fingerprint }}</code>{% endif %}</td>
<td>{% if e.key_numbers %}<ul>{% for label, value in e.key_numbers.items() %}<li>{{ label }}: {% if label == skipped_label %}<small>{{ value }}</small>{% else %}<strong>{{ value }}</strong>{% endif %}</li>{% endfor %}</ul>{% endif %}</td>
<td>{% if e.parameters %}<ul>{% for k, v in e.parameters.items() %}<li><code>{{ k }} = {{ v }}</code></li>{% endfor %}</ul>{% else %}defaults{% endif %}</td></tr>
{%- endfor %}
</table>
</body>
</html>
"""

_TEMPLATES = Environment(
    loader=DictLoader({"header.html": _HEADER_TEMPLATE, "index.html": _INDEX_TEMPLATE}),
    autoescape=True,
    keep_trailing_newline=True,
)


@dataclass
class IndexEntry:
    """One row of ``index.html``: a report present in the folder, or one that failed.

    Attributes
    ----------
    name, title : str
        Notebook name and report title.
    status : str
        ``"ok"`` (built by the latest run), ``"failed"`` (latest run failed),
        ``"earlier"`` (from an earlier run), ``"stale"`` (earlier, and its
        inputs changed since) or ``"unrecorded"`` (a report file no run recorded).
    href : str or None
        Link to the report, relative to the index.
    built_at : str or None
        When the linked report was built (UTC).
    fingerprint : str or None
        Fingerprint of the linked report's inputs.
    sources : list of str
        Its input files.
    key_numbers, parameters : dict
        As shown in its header (parameters as text).
    note : str or None
        What the status means (e.g. which inputs changed).
    failure : str or None
        Where and why the latest run failed.
    failed_notebook_href : str or None
        Link to the executed copy of a failed notebook.
    """

    name: str
    title: str
    status: str
    href: str | None = None
    built_at: str | None = None
    fingerprint: str | None = None
    sources: list[str] = field(default_factory=list)
    key_numbers: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    failure: str | None = None
    failed_notebook_href: str | None = None

    @property
    def status_label(self) -> str:
        """The status as the index shows it."""
        if self.status == "failed":
            return f"kept from {self.built_at}" if self.href else "failed"
        return {
            "ok": "built in the latest run",
            "earlier": "from an earlier run",
            "stale": "from an earlier run, stale",
            "unrecorded": "from an earlier run (no record)",
        }.get(self.status, self.status)

    @property
    def css_class(self) -> str:
        """CSS class of the status."""
        return {"ok": "ok", "failed": "failed", "stale": "stale"}.get(self.status, "earlier")

    @property
    def failed_notebook_label(self) -> str:
        """Text of the link to the executed failed notebook."""
        return self.failed_notebook_href or ""


def redact_message(text: str, limit: int = 200) -> str:
    """An error message fit for a page that gets sent around.

    First line only, ANSI colours stripped, values that may come from the data
    (quoted values and tokens with three or more digits, such as user ids or
    dates) replaced by ``…``, and at most ``limit`` characters.  The full
    message is on the terminal and in the executed notebook.

    Examples
    --------
    >>> redact_message("KeyError: 'u0042'\\nmore")
    "KeyError: '…'"
    >>> redact_message("user 17850 is in two variants of 'checkout'")
    "user … is in two variants of 'checkout'"
    """
    line = next((ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()), "")
    line = _QUOTED_WITH_DIGITS.sub(lambda m: f"{m.group(1)}…{m.group(1)}", line)
    line = _TOKEN_WITH_DIGITS.sub("…", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def key_number_blocks(nb: nbformat.NotebookNode) -> list[tuple[str, dict[str, str]]]:
    """(title, label → value) of every ``show_key_numbers`` output of an executed notebook."""
    blocks = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            numbers = output.get("metadata", {}).get(KEY_NUMBERS_METADATA)
            if isinstance(numbers, dict):
                title = output["metadata"].get(KEY_NUMBERS_TITLE_METADATA, "Key numbers")
                blocks.append((str(title), {str(k): str(v) for k, v in numbers.items()}))
    return blocks


def parameter_value(value: Any) -> str:
    """A parameter value as typed in a parameter file (JSON).

    Examples
    --------
    >>> parameter_value("010"), parameter_value([1, 2])
    ('"010"', '[1, 2]')
    """
    return json.dumps(value, ensure_ascii=False)


def _report_header(
    title: str,
    name: str,
    parameters: Mapping[str, Any],
    declared: Mapping[str, Mapping[str, Any]],
    blocks: list[tuple[str, dict[str, str]]],
    built_at: str | None,
    fingerprint: str | None,
    sources: Sequence[str],
) -> str:
    rows = [
        {
            "name": p,
            "value": parameter_value(parameters[p]) if p in parameters else str(info.get("default")),
            "origin": "set for this run" if p in parameters else "default",
        }
        for p, info in declared.items()
    ]
    numbers = Markup("".join(key_numbers_html(values, block_title) for block_title, values in blocks))
    return _TEMPLATES.get_template("header.html").render(
        name=name, title=title, built_at=built_at, fingerprint=fingerprint, sources=list(sources),
        numbers=numbers, declared=bool(declared), rows=rows,
        n_set=len(parameters), n_default=len(declared) - len(parameters),
    )


def skipped_section_names(blocks: list[tuple[str, dict[str, str]]]) -> set[str]:
    """Lower-cased names of the sections a run skipped, from its ``"Skipped sections"`` key numbers.

    The value reads ``"A (needs x); B (needs y)"`` (:func:`engagement_utils.overview.skipped_list`).

    Examples
    --------
    >>> sorted(skipped_section_names([("Key numbers", {"Skipped sections": "A/B test (needs an experiment); Paths"})]))
    ['a/b test', 'paths']
    """
    names = set()
    for _, values in blocks:
        for entry in values.get(SKIPPED_SECTIONS, "").split("; "):
            name = entry.split(" (", 1)[0].strip().lower()
            if name and name != "none":
                names.add(name)
    return names


def _report_body(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Copy of an executed notebook keeping only what a reader should see."""
    nb = copy.deepcopy(nb)
    skipped = skipped_section_names(key_number_blocks(nb))
    kept = []
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & _DROPPED_CELL_TAGS:
            continue
        sections = {tag[len(SECTION_TAG):].strip().lower() for tag in tags if tag.startswith(SECTION_TAG)}
        if cell.cell_type == "markdown" and sections and sections <= skipped:
            continue  # a heading over several sections stays while any of them is shown
        if cell.cell_type == "code":
            cell.outputs = [
                output
                for output in ([] if tags & _DROPPED_OUTPUT_TAGS else cell.outputs)
                # key numbers move to the header; stderr is warnings/progress noise
                if KEY_NUMBERS_METADATA not in output.get("metadata", {})
                and not (output.output_type == "stream" and output.get("name") == "stderr")
            ]
            if not cell.outputs:
                continue
        kept.append(cell)
    for position, cell in enumerate(kept):
        if "id" in cell:
            # papermill and nbformat create random ids; fixed ones keep reports reproducible
            cell.id = f"cell-{position}"
    nb.cells = kept
    return nb


def _html_exporter() -> HTMLExporter:
    return HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"engagement_report.html.j2": _REPORT_TEMPLATE})],
        template_file="engagement_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )


def remote_resources(page: str) -> list[str]:
    """Scripts, stylesheets, images or frames a page would fetch from the network.

    Parameters
    ----------
    page : str
        An HTML document.

    Returns
    -------
    list of str
        The offending snippets (empty when the page works offline).

    Examples
    --------
    >>> remote_resources('<script src="https://cdn.example.org/x.js"></script><a href="https://x.org">x</a>')
    ['<script src="https://cdn.example.org/x.js']
    """
    return [m.group(0) for m in _REMOTE_RESOURCE.finditer(page)]


def set_chart_alt_text(page: str, default: str = "Chart") -> str:
    """Give every chart image the text of the nearest heading above it as its ``alt`` text.

    nbconvert labels every image "No description has been provided for this
    image"; a chart under "## Retention curve" reads "Chart: Retention curve"
    instead (numbered when a section has several charts).

    Examples
    --------
    >>> page = '<h2>Funnel &amp; paths</h2><img alt="No description has been provided for this image" src="x">'
    >>> set_chart_alt_text(page)
    '<h2>Funnel &amp; paths</h2><img alt="Chart: Funnel &amp; paths" src="x">'
    """
    heading = ""
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal heading, count
        if match.group(1):
            heading = " ".join(html.unescape(_TAG.sub("", match.group(2))).replace("¶", "").split())
            count = 0
            return match.group(0)
        count += 1
        text = f"{default}: {heading}" if heading else default
        if count > 1:
            text += f" ({count})"
        return f'alt="{html.escape(text, quote=True)}"'

    return _HEADING_OR_IMAGE.sub(replace, page)


def render_html(
    nb: nbformat.NotebookNode,
    *,
    name: str,
    parameters: Mapping[str, Any] | None = None,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
    built_at: str | None = None,
    fingerprint: str | None = None,
    sources: Sequence[str] = (),
) -> str:
    """Turn an executed notebook into a self-contained, offline HTML report.

    Code, prompts, parameter cells and stderr are hidden; figures are
    embedded with alt text from their section heading; key numbers from
    :func:`engagement_utils.display.show_key_numbers`, the build time, the
    inputs' fingerprint and the parameters are shown in a header.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook.
    name : str
        Notebook name shown in the header.
    parameters : mapping, optional
        Parameters passed in this run.
    declared : mapping, optional
        The notebook's declared parameters (``papermill.inspect_notebook``),
        to show defaults next to the values set.
    built_at, fingerprint : str, optional
        Build time and inputs' fingerprint shown in the header (the only
        parts of a report that differ between two builds of the same inputs).
    sources : sequence of str
        Input files shown next to the fingerprint.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValueError
        If an output would load something from the network.

    Examples
    --------
    Usage (it reads project files, so it is not a doctest)::

        page = render_html(nbformat.read("notebooks/00_data_overview.ipynb", 4),
                           name="00_data_overview", built_at="2024-05-01 10:00 UTC")
    """
    title = notebook_title(nb, name)
    body = _report_body(nb)
    body.metadata["title"] = title
    header = _report_header(title, name, parameters or {}, declared or {}, key_number_blocks(nb),
                            built_at, fingerprint, sources)
    page, _ = _html_exporter().from_notebook_node(
        body, resources={"engagement_header": Markup(header), "engagement_css": Markup(_CSS)}
    )
    page = set_chart_alt_text(page)
    remote = remote_resources(page)
    if remote:
        raise ValueError(
            f"the report would load {len(remote)} resource(s) from the network, e.g. {remote[0]!r}; "
            "reports must work offline -- tag that cell 'remove-output' or show a static figure"
        )
    return page


def render_index(entries: Sequence[IndexEntry], *, run_at: str | None = None) -> str:
    """HTML page listing every report of a folder (everything escaped).

    Parameters
    ----------
    entries : sequence of IndexEntry
        One per report present in the folder or failed in the latest run.
    run_at : str, optional
        Time of the latest run.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> page = render_index([IndexEntry("nb", "<Overview>", "ok", href="nb.html", built_at="2024-05-01 10:00 UTC")])
    >>> "&lt;Overview&gt;" in page and "built in the latest run" in page
    True
    """
    n_failed = sum(e.status == "failed" for e in entries)
    n_latest = sum(e.status in ("ok", "failed") for e in entries)
    n_earlier = len(entries) - n_latest
    status = f"{n_latest - n_failed} of {n_latest} reports built by the latest run" + (
        f", {n_failed} failed" if n_failed else ""
    ) + (f"; {n_earlier} more from earlier runs" if n_earlier else "")
    return _TEMPLATES.get_template("index.html").render(
        entries=list(entries), status=status, run_at=run_at, font_stack=Markup(FONT_STACK), skipped_label=SKIPPED_SECTIONS
    )
