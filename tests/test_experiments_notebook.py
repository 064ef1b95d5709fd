"""Notebook 03 renders data only through escaping helpers, and its parameters cell is papermill-safe."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_ab_test.ipynb"


def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def test_no_markdown_or_html_built_from_data():
    code = "\n".join("".join(c["source"]) for c in cells() if c["cell_type"] == "code")
    assert "Markdown(" not in code and "HTML(" not in code and "print(" not in code
    assert "IPython" not in code


def test_parameters_cell_is_one_plain_assignment_per_line():
    params = next(c for c in cells() if "parameters" in c["metadata"].get("tags", []))
    for line in "".join(params["source"]).splitlines():
        assignment, _, comment = line.partition("  # ")
        assert re.fullmatch(r"[a-z_]+ = .+", assignment), line
        assert "=" not in comment, line


def test_verdict_sentences_with_markup_in_variant_names_are_escaped():
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell  # noqa: F401  (display needs IPython present)

    from engagement_utils import display
    from engagement_utils.experiments import analyze_experiment

    users = pd.DataFrame({"variant": ["control"] * 50 + ["<img src=x onerror=alert(1)>"] * 50, "converted": [0, 1] * 50})
    analysis = analyze_experiment(users, primary=["converted"])
    shown = []
    original = display.display
    display.display = lambda obj: shown.append(obj.data)
    try:
        for sentence, kind in analysis.notes():
            display.show_note(sentence, kind=kind)
    finally:
        display.display = original
    assert shown and all("<img" not in html for html in shown)
    assert any("&lt;img" in html for html in shown)
