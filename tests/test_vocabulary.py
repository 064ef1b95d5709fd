"""One name per idea: the glossary in CONTRIBUTING.md, enforced on every public signature."""

import importlib
import inspect
import pkgutil

import pytest

import engagement_utils
from engagement_utils._docs import PLACEHOLDER
from engagement_utils.stats import CORRECTIONS

# second names for ideas the glossary names once (the glossary's name on the right)
SECOND_NAMES = {
    "confidence": "alpha",
    "as_of": "end",
    "freq": "period",
    "seed": "random_state",
    "by": "segment",
    "conversion_event": "conversion_events",
    "start_event": "start_events",
    "return_event": "return_events",
    "active_event": "active_events",
    "min_group": "min_group_size",
    "small_group_threshold": "min_group_size",
    "threshold": "min_group_size",
    "method_correction": "correction",
    "ci_method": "method",
    "cohort_period": "period",
    "warning_threshold": "srm_warning",
    "expected": "expected_split",
}


def _public_callables():
    seen = set()
    for info in pkgutil.walk_packages(engagement_utils.__path__, "engagement_utils."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        for name in names:
            obj = getattr(module, name, None)
            if obj is None or getattr(obj, "__module__", "") is None or not getattr(obj, "__module__", "").startswith("engagement_utils"):
                continue
            targets = [obj]
            if inspect.isclass(obj):
                targets = [getattr(obj, m) for m in vars(obj) if not m.startswith("_") and callable(getattr(obj, m))]
                targets.append(obj.__init__)
            for target in targets:
                if callable(target) and id(target) not in seen:
                    seen.add(id(target))
                    yield f"{obj.__module__}.{name}", target


def _parameters(target):
    try:
        return inspect.signature(target).parameters
    except (TypeError, ValueError):
        return {}


PUBLIC = list(_public_callables())


def test_public_api_found():
    names = {name for name, _ in PUBLIC}
    assert {"engagement_utils.retention.cohorts.retention_matrix", "engagement_utils.stats.wilson_ci"} <= names


def test_no_second_names():
    offenders = sorted(
        f"{name}({param}) — use {SECOND_NAMES[param]!r}"
        for name, target in PUBLIC for param in _parameters(target) if param in SECOND_NAMES
    )
    assert not offenders, "parameters with a second name for a glossary idea:\n" + "\n".join(offenders)


def test_corrections_use_statsmodels_names():
    offenders = []
    for name, target in PUBLIC:
        param = _parameters(target).get("correction")
        if param is not None and param.default is not inspect.Parameter.empty and param.default not in CORRECTIONS:
            offenders.append(f"{name}: correction={param.default!r}")
    assert not offenders, offenders


@pytest.mark.parametrize("param, allowed", [("window", None), ("alternative", ("two-sided", "greater", "less"))])
def test_one_meaning_per_name(param, allowed):
    offenders = []
    for name, target in PUBLIC:
        p = _parameters(target).get(param)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        if param == "window" and isinstance(p.default, str) and p.default in ("calendar", "rolling"):
            offenders.append(f"{name}: window={p.default!r} is a clock, not a duration")
        if allowed and p.default not in allowed:
            offenders.append(f"{name}: {param}={p.default!r}")
    assert not offenders, offenders


def test_event_names_are_not_called_start_or_end():
    # start / end are timestamps everywhere; path analysis names its events from_events / to_events
    from engagement_utils import funnels

    params = _parameters(funnels.top_paths)
    assert "start" not in params and "end" not in params


def test_no_private_imports_across_modules():
    import ast
    from pathlib import Path

    offenders = []
    root = Path(engagement_utils.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                for alias in node.names:
                    if alias.name.startswith("_") and alias.name != "__all__" and not alias.name.startswith("__"):
                        offenders.append(f"{path.relative_to(root)}: from {'.' * node.level}{node.module or ''} import {alias.name}")
    assert not offenders, offenders


def test_shared_docstring_fragments_are_filled():
    # a "{name}" line left in a docstring means its function lacks @fill_doc (engagement_utils._docs)
    offenders = sorted(name for name, target in PUBLIC if PLACEHOLDER.search(target.__doc__ or ""))
    assert not offenders, offenders


def test_metric_kinds_are_the_glossarys():
    # a metric's kind is "binary" / "mean" / "ratio" everywhere: parameters, results and defaults
    import re
    from pathlib import Path

    from engagement_utils.experiments import inputs, power, userlevel

    assert set(power.KINDS) <= set(inputs.KINDS) and set(userlevel.METRIC_KINDS) <= set(inputs.KINDS)
    assert "continuous" not in power.KINDS + userlevel.METRIC_KINDS
    quoted = re.compile(r"""["']continuous["']""")
    root = Path(engagement_utils.__file__).parent
    offenders = sorted(str(path.relative_to(root)) for path in root.rglob("*.py") if quoted.search(path.read_text(encoding="utf-8")))
    assert not offenders, f"'continuous' is not a metric kind (use 'mean'): {offenders}"


def test_interval_methods_use_statsmodels_names():
    from engagement_utils.experiments.compare import METHODS
    from engagement_utils.experiments.stats import PROPORTION_CI_METHODS
    from engagement_utils.experiments.userlevel import PROPORTION_METHODS

    # confint_proportions_2indep's names for a difference of proportions; compare_proportions
    # computes through compare_arms, so its methods are compare_arms' ("newcombe" named Agresti-Caffo)
    assert set(PROPORTION_CI_METHODS) <= {"wald", "agresti-caffo", "newcomb", "score"}
    assert set(PROPORTION_METHODS) <= set(METHODS)
    assert "newcombe" not in PROPORTION_CI_METHODS + PROPORTION_METHODS + METHODS


def test_per_user_frames_are_called_users():
    # one row per user (variant and metric columns) is "users" in every experiments function, not "data"
    # (analyze_experiment's data is wider: a per-user frame or per-arm Summaries)
    from engagement_utils.experiments import sequential, sufficient, userlevel

    functions = [getattr(userlevel, name) for name in userlevel.__all__ if name != "BayesianResult"]
    functions += [sufficient.summarize, sequential.cumulative_comparison]
    assert {next(iter(_parameters(f))) for f in functions} == {"users"}
