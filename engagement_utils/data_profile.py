"""What a data set has, what a report section needs, and a funnel proposed from the data.

After loading (:func:`engagement_utils.dataset.load_dataset`) a notebook calls
:func:`profile` once; every report section declares its needs with
:func:`requires`; :func:`missing_for` returns one sentence per missing need,
naming the parameter or column that supplies it, so the section is replaced
by that line and the report header lists what was skipped
(:func:`skipped_sections`)::

    ds = load_dataset(p.dataset)
    prof = profile(ds)
    FUNNEL = requires(roles=["funnel_steps"], columns=["session_id"])
    missing = missing_for(FUNNEL, prof)
    if missing:
        show_note("Funnel skipped: " + "; ".join(missing))   # escaped by show_note

An unset ``start_events`` / ``return_events`` / ``active_events`` means *any
event*, so it is never missing; a set role naming no event of the data is.

On an engine (``events.engine: ibis``) the profile is read from the table's
schema and a few grouped counts in the engine; a section that needs the raw
rows in memory declares ``requires(engine="memory")`` and is skipped there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .funnels import parse_step
from .validation import as_event_list, check_option, check_positive_int

__all__ = ["DataProfile", "Need", "ProposedFunnel", "OPTIONAL_COLUMNS", "SECTION_NEEDS",
           "profile", "requires", "missing_for", "skipped_sections", "propose_funnel"]

OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "revenue": ("revenue",),
    "platform": ("platform",),
    "channel": ("channel", "acquisition_channel"),
    "country": ("country",),
    "screen": ("screen",),
    "session_id": ("session_id",),
}
"""Optional event columns (DESIGN §4) → the column names that supply them, first found wins."""

_CANONICAL = {"user_id", "timestamp", "event"} | {c for names in OPTIONAL_COLUMNS.values() for c in names}
_ANY_EVENT_ROLES = ("start_events", "return_events", "active_events")
_ROLES = ("conversion_events", "cart_events", "checkout_events", "funnel_steps") + _ANY_EVENT_ROLES
_INPUTS = ("events", "users", "assignments", "spend", "surveys")
_TOP_VALUES = 5

_COLUMN_FIX = {
    "revenue": "a revenue column (map one with column_map or set `revenue:` in the events options)",
    "platform": "a platform column (map one with column_map, e.g. {os: platform})",
    "channel": "a channel column (`channel` or `acquisition_channel`; map one with column_map)",
    "country": "a country column (map one with column_map)",
    "screen": "a screen column (map a page or screen name column with column_map)",
    "session_id": "a session_id column (map one with column_map, or build sessions with sessions.sessionize)",
}
_INPUT_NAMES = {"users": "a users table", "assignments": "an assignments table", "spend": "a spend table",
                "surveys": "a surveys table"}
_ROLE_FIX = {
    "conversion_events": "conversion events (set `conversion_events:` in the data-set description)",
    "cart_events": "cart events (set `cart_events:`, e.g. add_to_cart)",
    "checkout_events": "checkout events (set `checkout_events:`, e.g. [shipping_details, payment_details])",
    "funnel_steps": "funnel steps (set `funnel_steps:`; propose_funnel suggests the most common ordered steps)",
    "start_events": "start events (set `start_events:` to events the data has, or leave it unset for any event)",
    "return_events": "return events (set `return_events:` to events the data has, or leave it unset for any event)",
    "active_events": "active events (set `active_events:` to events the data has, or leave it unset for any event)",
}


@dataclass(frozen=True)
class DataProfile:
    """What a loaded data set has.

    Attributes
    ----------
    n_events, n_users : int
    first_timestamp, last_timestamp : Timestamp or None
    columns : dict
        Optional column (:data:`OPTIONAL_COLUMNS`) → the events column supplying it, or None.
    properties : list of str
        Other event columns (usable as a ``segment``).
    inputs : dict
        Input name → number of rows, or None when absent.
    user_columns : list of str
        Users-table columns besides ``user_id`` (empty without a users table).
    event_names : list of str
        Events that occur, most frequent first.
    roles : dict
        Role → event names as set (None: unset).
    absent_role_events : dict
        Role → its set names that do not occur in the events.
    table : DataFrame
        ``kind, name, present, detail``: one row per input, optional column, property and role.
    engine : str
        ``"memory"`` (events loaded into pandas) or ``"ibis"`` (scanned in an engine).
    """

    n_events: int
    n_users: int
    first_timestamp: pd.Timestamp | None
    last_timestamp: pd.Timestamp | None
    columns: dict[str, str | None]
    properties: list[str]
    inputs: dict[str, int | None]
    user_columns: list[str]
    event_names: list[str]
    roles: dict[str, list[str] | None]
    absent_role_events: dict[str, list[str]]
    table: pd.DataFrame = field(repr=False)
    engine: str = "memory"

    @property
    def text(self) -> str:
        """A few sentences on what the data has (data values are not escaped here)."""
        present = [name for name, column in self.columns.items() if column]
        lacking = [name for name, column in self.columns.items() if not column]
        inputs = [name for name, rows in self.inputs.items() if rows is not None and name != "events"]
        roles = [role for role, names in self.roles.items() if names]
        return " ".join([
            f"{self.n_events:,} events of {self.n_users:,} users, {len(self.event_names)} distinct events.",
            f"Optional columns present: {', '.join(present) or 'none'}; absent: {', '.join(lacking) or 'none'}.",
            f"Other inputs: {', '.join(inputs) or 'none'}.",
            f"Event roles set: {', '.join(roles) or 'none'}.",
        ])


def _describe_column(values: pd.Series) -> str:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        filled = values.dropna()
        return _describe_facts(("number", len(filled), filled.sum() if len(filled) else 0.0))
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]
    return _describe_facts(("values", len(counts), [str(v) for v in counts.index[:_TOP_VALUES]]))


def _describe_facts(facts: tuple) -> str:
    """``("number", rows with a value, total)`` or ``("values", distinct values, top values)`` as the detail text."""
    kind, n, rest = facts
    if kind == "number":
        return f"{n:,} rows with a value, total {rest:,.2f}" if n else "no values"
    more = f" (+{n - _TOP_VALUES} more)" if n > _TOP_VALUES else ""
    return f"{n} values: {', '.join(rest[:_TOP_VALUES])}{more}"


def _engine_facts(events) -> tuple:
    """Profile facts of an engine source: counts, presence and the detail texts (:func:`engines.overview.profile_facts`)."""
    from .engines.overview import profile_facts

    described = [c for c in events.columns if c not in ("user_id", "timestamp", "event")]
    facts = profile_facts(events, described, top=_TOP_VALUES)
    counts = facts["event_counts"]
    names = [str(n) for n in counts.index[counts.to_numpy() > 0]]
    present = [c for c in events.columns if facts["filled"][c]]
    details = {c: _describe_facts(f) for c, f in facts["described"].items()}
    return facts, names, present, details


def _step_events(step: str) -> list[str]:
    """Event names of a funnel step (``"screen_view[screen:product] | add_to_cart"`` has two)."""
    return [alternative["event"] for alternative in parse_step(step)]


def profile(dataset: Any) -> DataProfile:
    """Profile a :class:`~engagement_utils.dataset.DataSet` (or a plain canonical events frame or engine source).

    With the events on an engine (an :class:`engagement_utils.engines.IbisEvents`) the facts come
    from the table's schema and grouped counts in the engine (:func:`engines.overview.profile_facts`),
    never from loaded rows; the profile is the same as the loaded frame's.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a", "a", "b"]), "event": pd.Categorical(["open", "buy", "open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"], utc=True)})
    >>> prof = profile(ev)
    >>> prof.n_users, prof.columns["revenue"], prof.event_names, prof.inputs["users"]
    (2, None, ['open', 'buy'], None)
    """
    from .core import engine_of

    if isinstance(dataset, pd.DataFrame) or engine_of(dataset) == "ibis":
        events, tables, roles = dataset, {"events": dataset}, {role: None for role in _ROLES}
    else:
        events = dataset.events
        tables = {name: getattr(dataset, name) for name in _INPUTS}
        roles = dataset.roles.as_dict()
    engine = engine_of(events)
    if engine == "ibis":
        facts, names, filled, details = _engine_facts(events)
        describe = details.__getitem__
    else:
        counts = events["event"].value_counts()
        names = [str(n) for n in counts.index[counts.to_numpy() > 0]]
        filled = [c for c in events.columns if events[c].notna().any()]
        describe = lambda column: _describe_column(events[column])  # noqa: E731
    columns = {key: next((c for c in options if c in filled), None) for key, options in OPTIONAL_COLUMNS.items()}
    properties = [c for c in events.columns if c not in _CANONICAL]
    inputs = {name: (None if tables.get(name) is None else
                     facts["n_events"] if name == "events" and engine == "ibis" else len(tables[name])) for name in _INPUTS}
    users = tables.get("users")
    user_columns = [] if users is None else [c for c in users.columns if c != "user_id"]
    present = set(names)
    absent = {role: [n for n in listed if not set(_step_events(n) if role == "funnel_steps" else [n]) & present]
              for role, listed in roles.items() if listed}
    rows = [("input", name, rows is not None, "" if rows is None else f"{rows:,} rows") for name, rows in inputs.items()]
    rows += [("column", key, column is not None, "" if column is None else f"{column}: {describe(column)}")
             for key, column in columns.items()]
    rows += [("property", name, True, describe(name)) for name in properties]
    rows += [("role", role, bool(listed) and not absent.get(role),
              "unset (any event)" if listed is None and role in _ANY_EVENT_ROLES else
              "unset" if listed is None else
              ", ".join(listed) + (f" (not in the events: {', '.join(absent[role])})" if absent.get(role) else ""))
             for role, listed in roles.items()]
    if engine == "ibis":
        n_events, n_users, first, last = facts["n_events"], facts["n_users"], facts["first"], facts["last"]
    else:
        has_rows = len(events) > 0
        n_events, n_users = len(events), int(events["user_id"].nunique())
        first = events["timestamp"].min() if has_rows else None
        last = events["timestamp"].max() if has_rows else None
    return DataProfile(
        n_events=n_events, n_users=n_users, first_timestamp=first, last_timestamp=last,
        columns=columns, properties=properties, inputs=inputs, user_columns=user_columns, event_names=names,
        roles=dict(roles), absent_role_events={k: v for k, v in absent.items() if v},
        table=pd.DataFrame(rows, columns=["kind", "name", "present", "detail"]), engine=engine,
    )


@dataclass(frozen=True)
class Need:
    """One thing a report section needs: ``kind`` (column, input, role, event, user_column) and ``name``."""

    kind: str
    name: str


def requires(*, columns: Sequence[str] = (), inputs: Sequence[str] = (), roles: Sequence[str] = (),
             events: Sequence[str] = (), user_columns: Sequence[str] = (),
             event_columns: Sequence[str] = (), engine: str | None = None) -> tuple[Need, ...]:
    """Declare what a report section needs.

    Parameters
    ----------
    columns : optional event columns of :data:`OPTIONAL_COLUMNS` (``revenue``, ``platform``, ...)
    inputs : ``users``, ``assignments``, ``spend``, ``surveys``
    roles : event roles that must be set and occur (``conversion_events``, ``funnel_steps``, ...)
    events : event names that must occur (e.g. ``in_app_message_shown``)
    user_columns : users-table columns (e.g. ``onboarding``)
    event_columns : any events column by name, e.g. the column a ``segment`` parameter names
    engine : ``"memory"`` for a section that needs the raw rows loaded (loading steps, ...)

    Examples
    --------
    >>> requires(columns=["revenue"], roles=["conversion_events"])
    (Need(kind='column', name='revenue'), Need(kind='role', name='conversion_events'))
    >>> requires(columns=["revnue"])
    Traceback (most recent call last):
    ...
    ValueError: The 'columns' parameter must be one of {'revenue', 'platform', 'channel', 'country', 'screen', 'session_id'}; got 'revnue' — did you mean 'revenue'?
    """
    needs = [Need("column", check_option("columns", c, tuple(OPTIONAL_COLUMNS))) for c in columns]
    needs += [Need("input", check_option("inputs", i, _INPUTS[1:])) for i in inputs]
    needs += [Need("role", check_option("roles", r, _ROLES)) for r in roles]
    needs += [Need("event", e) for e in as_event_list(list(events), "events") or []] if events else []
    needs += [Need("user_column", c) for c in user_columns]
    needs += [Need("event_column", c) for c in event_columns if c]
    if engine is not None:
        from .dataset import ENGINES

        needs.append(Need("engine", check_option("engine", engine, ENGINES)))
    return tuple(needs)


def missing_for(section_needs: Sequence[Need], profile: DataProfile) -> list[str]:
    """One sentence per need the data lacks, naming the parameter or column that supplies it.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> for line in missing_for(requires(columns=["revenue"], inputs=["users"], roles=["conversion_events"]), profile(ev)):
    ...     print(line)
    needs a revenue column (map one with column_map or set `revenue:` in the events options)
    needs a users table (add `users: {path: ...}` to the data-set description)
    needs conversion events (set `conversion_events:` in the data-set description)
    """
    lines = []
    events = set(profile.event_names)
    breakdowns = [c for c in profile.columns.values() if c] + profile.properties
    for need in section_needs:
        if need.kind == "column" and not profile.columns.get(need.name):
            lines.append(f"needs {_COLUMN_FIX[need.name]}")
        elif need.kind == "input" and profile.inputs.get(need.name) is None:
            lines.append(f"needs {_INPUT_NAMES[need.name]} (add `{need.name}: {{path: ...}}` to the data-set description)")
        elif need.kind == "role":
            listed = profile.roles.get(need.name)
            if listed is None and need.name not in _ANY_EVENT_ROLES:
                lines.append(f"needs {_ROLE_FIX[need.name]}")
            elif listed and need.name in profile.absent_role_events:
                absent = ", ".join(repr(n) for n in profile.absent_role_events[need.name])
                lines.append(f"needs {_ROLE_FIX[need.name]}: {absent} does not occur in the events")
        elif need.kind == "event" and need.name not in events:
            lines.append(f"needs the event {need.name!r}, which does not occur in the events")
        elif need.kind == "event_column" and need.name not in breakdowns:
            shown = ", ".join(breakdowns[:8]) or "none"
            lines.append(f"needs the events column {need.name!r} (name one the events have: {shown}; or map one with column_map)")
        elif need.kind == "engine" and need.name != profile.engine:
            lines.append("needs the events loaded in memory (`engine: memory` in the events block of the data-set "
                         "description); on the engine the table is read where it lies, without loading steps")
        elif need.kind == "user_column" and need.name not in profile.user_columns:
            where = "a users table with" if profile.inputs.get("users") is None else "the users table to have"
            lines.append(f"needs {where} the column {need.name!r} (add it, or map it with the users' column_map)")
    return lines


SECTION_NEEDS: dict[str, tuple[Need, ...]] = {
    "conversion": requires(roles=["conversion_events"]),
    "revenue": requires(columns=["revenue"], roles=["conversion_events"]),
    "funnel": requires(roles=["funnel_steps"]),
    "cart_abandonment": requires(roles=["cart_events", "conversion_events"]),
    "checkout": requires(roles=["checkout_events", "conversion_events"]),
    "platform_breakdown": requires(columns=["platform"]),
    "channel_breakdown": requires(columns=["channel"]),
    "country_breakdown": requires(columns=["country"]),
    "screen_flow": requires(columns=["screen"]),
    "ab_test": requires(inputs=["assignments"], roles=["conversion_events"]),
    "acquisition_cost": requires(inputs=["spend"], roles=["conversion_events"]),
    "surveys": requires(inputs=["surveys"]),
    "user_properties": requires(inputs=["users"]),
    "rfm": requires(columns=["revenue"], roles=["conversion_events"]),
    "message_reach": requires(events=["in_app_message_shown"]),
    "messaging_and_onboarding": requires(user_columns=["n_messaging_channels", "onboarding"]),
}
"""Needs of the usual report sections, a starting point for notebooks (each declares its own)."""


def skipped_sections(needs_by_section: Mapping[str, Sequence[Need]], profile: DataProfile) -> pd.DataFrame:
    """The report header's list: ``section, missing`` (one row per missing need), empty when nothing is skipped.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(["a"]), "event": pd.Categorical(["open"]),
    ...                    "timestamp": pd.to_datetime(["2024-01-01"], utc=True)})
    >>> skipped_sections({"funnel": requires(roles=["funnel_steps"]), "overview": ()}, profile(ev))["section"].tolist()
    ['funnel']
    """
    rows = [(section, line) for section, needs in needs_by_section.items() for line in missing_for(needs, profile)]
    return pd.DataFrame(rows, columns=["section", "missing"])


@dataclass(frozen=True)
class ProposedFunnel:
    """A funnel proposed from the data: ``steps``, ``table`` (step, event, users, share) and ``text``."""

    steps: list[str]
    table: pd.DataFrame

    @property
    def text(self) -> str:
        if not self.steps:
            return "No funnel could be proposed: the events have no repeated ordered steps."
        return (f"Proposed funnel (the most common ordered steps in the data, not set in the parameters): "
                f"{' → '.join(self.steps)}. Set `funnel_steps:` to choose your own.")


_MAX_CANDIDATES = 30
MAX_CANDIDATES = _MAX_CANDIDATES
"""How many events (those with most users) may become steps of a proposed funnel; the engine version reads it too."""


def propose_funnel(events: pd.DataFrame, max_steps: int = 4, *, from_events=None, to_events=None) -> ProposedFunnel:
    """The most common ordered step sequence, greedily: each step is the event most users reach next.

    Step 1 is the event most users do first (or the most common of
    ``from_events``); each next step is the not-yet-used event that the most
    users who reached the previous step do at some later time (sequential
    ordering, as funnels count it); with ``to_events`` the last step is the
    most reached of those.  Only the 30 events with most users (plus
    ``from_events`` / ``to_events``) are candidates.  Vectorized: one sort,
    then one ``searchsorted`` per candidate and step.

    Examples
    --------
    >>> ev = pd.DataFrame({"user_id": pd.Categorical(list("aaabbbccdd")),
    ...                    "event": pd.Categorical(["home", "view", "buy", "home", "view", "view", "home", "buy", "home", "view"]),
    ...                    "timestamp": pd.to_datetime([1, 2, 3, 1, 2, 3, 1, 2, 1, 2], unit="D", utc=True)})
    >>> f = propose_funnel(ev, max_steps=3)
    >>> f.steps, f.table["users"].tolist()
    (['home', 'view', 'buy'], [4, 3, 1])
    """
    from .core import engine_of

    if engine_of(events) == "ibis":  # the greedy step counts in the engine, the same proposal
        from .engines.path_scans import propose_funnel as on_engine

        return on_engine(events, max_steps, from_events=from_events, to_events=to_events)
    max_steps = check_positive_int(max_steps, "max_steps", minimum=2)
    names = pd.Index(events["event"].cat.categories.astype(str))
    user = events["user_id"].cat.codes.to_numpy().astype(np.int64)
    code = events["event"].cat.codes.to_numpy().astype(np.int64)
    n_users, n = len(events["user_id"].cat.categories), len(events)
    pairs = np.unique(user * len(names) + code)
    users_per_event = np.bincount(pairs % len(names), minlength=len(names))
    wanted = [name for group in (from_events, to_events) for name in (as_event_list(group, "events") or [])]
    candidates = list(np.argsort(-users_per_event, kind="stable")[:_MAX_CANDIDATES])
    candidates += [names.get_loc(w) for w in wanted if w in names and names.get_loc(w) not in candidates]
    k = len(candidates)
    local = np.full(len(names), -1)
    local[candidates] = np.arange(k)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(events["timestamp"].array.asi8, kind="stable")] = np.arange(n)
    keep = local[code] >= 0
    keys = np.sort((user[keep] * k + local[code[keep]]) * n + rank[keep])
    everyone = np.arange(n_users, dtype=np.int64)

    def next_rank(c: int, users: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Rank of each user's first ``c`` after rank ``after`` (-1 when none)."""
        target = users * k + c
        idx = np.searchsorted(keys, target * n + after, side="right")
        found = idx < len(keys)
        found[found] = keys[idx[found]] // n == target[found]
        return np.where(found, keys[np.minimum(idx, len(keys) - 1)] % n, -1)

    def best(options: list[int], users, after):
        reached = {c: next_rank(c, users, after) for c in options}
        counts = {c: int((r >= 0).sum()) for c, r in reached.items()}
        top = max(options, key=lambda c: (counts[c], -c)) if options else None
        return top, (None if top is None else reached[top])

    order = np.argsort(rank)
    seen, first_row = np.unique(user[order], return_index=True)
    first_of_user = np.full(n_users, -1)
    first_of_user[seen] = local[code[order][first_row]]
    allowed = [local[names.get_loc(w)] for w in (as_event_list(from_events, "from_events") or []) if w in names]
    options = allowed or list(range(k))
    start = max(options, key=lambda c: (int((first_of_user == c).sum()), -c))
    steps, sizes = [start], []
    reached = next_rank(start, everyone, np.full(n_users, -1))
    sizes.append(int((reached >= 0).sum()))
    final = [local[names.get_loc(w)] for w in (as_event_list(to_events, "to_events") or []) if w in names]
    while len(steps) < max_steps and sizes[-1] > 0:
        last_step = final and len(steps) == max_steps - 1
        options = [c for c in (final if last_step else range(k)) if c not in steps and (last_step or c not in final)]
        live = reached >= 0
        choice, ranks = best(options, everyone[live], reached[live])
        if choice is None or (ranks >= 0).sum() == 0:
            break
        steps.append(choice)
        reached = np.full(n_users, -1)
        reached[everyone[live]] = ranks
        sizes.append(int((reached >= 0).sum()))
    labels = [names[candidates[c]] for c in steps]
    table = pd.DataFrame({"step": np.arange(1, len(steps) + 1), "event": labels, "users": sizes})
    table["share"] = table["users"] / table["users"].iloc[0] if len(table) and table["users"].iloc[0] else np.nan
    return ProposedFunnel(steps=labels if len(labels) > 1 else [], table=table)
