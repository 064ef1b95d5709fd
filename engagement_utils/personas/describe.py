"""The prose of the personas report: persona names, descriptions and the one-line readings.

Every sentence is written from the numbers the other modules compute; nothing
is written per cluster by hand, so new data get new words.  Result objects
(:class:`PersonaCards`, ``Segmentation``, ``Projection``, ``PersonaOutcomes``)
take their ``.text`` from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
import pandas as pd

from ..display.format import format_money, plural
from .features import UserFeatures
from .profiles import HIGH, SOME, feature_zscores, persona_profiles, persona_traits
from .rfm import NO_PURCHASE

if TYPE_CHECKING:  # the result types only; those modules import this one for their text
    from .clusters import Projection, Segmentation
    from .outcomes import PersonaOutcomes

__all__ = [
    "FEATURE_WORDS", "PersonaCards", "describe_personas", "persona_names", "feature_words", "left_out_notes",
    "key_numbers", "best_converting", "retention_text", "segment_text", "outcomes_text", "silhouette_text",
    "projection_text", "contrast_text", "outcomes_caption", "rfm_measure", "rfm_display", "rfm_text", "grid_text", "export_text",
]

# How each known feature reads in words: (label, wording when higher, wording when lower).
FEATURE_WORDS: dict[str, tuple[str, str, str]] = {
    "recency_days": ("days since last visit", "were last seen longer ago", "were seen more recently"),
    "tenure_days": ("days since first visit", "joined earlier", "joined more recently"),
    "active_days": ("active days", "are active on more days", "are active on fewer days"),
    "active_day_share": ("share of days active", "visit on more of their days", "visit on fewer of their days"),
    "events": ("events", "generate more events", "generate fewer events"),
    "sessions": ("sessions", "have more sessions", "have fewer sessions"),
    "mean_session_s": ("session length", "have longer sessions", "have shorter sessions"),
    "events_per_session": ("events per session", "do more per session", "do less per session"),
    "bounce_rate": ("bounce rate", "bounce more often", "bounce less often"),
    "orders": ("orders", "place more orders", "place fewer orders"),
    "revenue": ("revenue", "spend more", "spend less"),
    "aov": ("average order value", "buy bigger baskets", "buy smaller baskets"),
    "converted": ("share who bought", "are more likely to buy", "are less likely to buy"),
    "channels_reached": ("channels reached", "are reached on more channels", "are reached on fewer channels"),
}


def feature_words(feature: str) -> tuple[str, str, str]:
    """``(label, wording when higher, wording when lower)`` of a feature."""
    readable = feature.replace("_", " ")
    return FEATURE_WORDS.get(feature, (readable, f"have more {readable}", f"have fewer {readable}"))


def persona_names(labels: pd.Series, names: Mapping | pd.Series | None = None) -> pd.Series:
    """Display name per user: ``names[persona]``, or ``"Persona <n>"`` without names (categorical)."""
    if names is None:
        return labels.map(lambda p: f"Persona {p}").astype("category")
    mapped = labels.map(dict(names))
    if mapped.isna().any():
        raise ValueError(f"names has no entry for persona(s) {sorted(set(labels[mapped.isna()]))}")
    return mapped.astype("category")


# --------------------------------------------------------------------------- persona cards


def _persona_name(z: pd.Series, medians: pd.Series, share_buyers: float, taken: set[str], persona) -> str:
    """Short name from the persona's standing on activity, spending and browsing."""
    activity = next((c for c in ("active_day_share", "active_days", "events") if c in z.index), None)
    act = z.get(activity, 0.0)
    if medians.get("active_days", np.inf) <= 1:
        adjective = "One-and-done"
    elif act >= HIGH:
        adjective = "Loyal"
    elif act >= SOME:
        adjective = "Regular"
    else:
        adjective = "Occasional"
    if share_buyers >= 0.5:
        if z.get("revenue", 0.0) >= HIGH and z.get("aov", 0.0) >= -SOME:
            noun = "big spenders"
        elif z.get("aov", 0.0) <= -SOME:
            noun = "small-basket buyers"
        else:
            noun = "buyers"
    elif z.get("bounce_rate", 0.0) >= SOME or z.get("mean_session_s", 0.0) <= -SOME:
        noun = "visitors" if adjective == "One-and-done" else "browsers"
    else:
        noun = "window shoppers"
    name = f"{adjective} {noun}"
    rest = z.drop([c for c in (activity, "revenue", "aov", "converted") if c in z.index]).abs()
    if name in taken and len(rest) and rest.max() > 0:
        top = rest.idxmax()
        name = f"{name}, {feature_words(top)[0]} {'high' if z[top] > 0 else 'low'}"
    return f"{name} (persona {persona})" if name in taken else name


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.1f}"


def _traits_text(traits: list[tuple[str, float]]) -> list[str]:
    return [f"{feature_words(f)[1 if d > 0 else 2]} ({d:+.1f} SD)" for f, d in traits]


def _optional(clauses: list[tuple[bool, str]]) -> str:
    """The clauses whose feature is present, joined."""
    return "".join(text for present, text in clauses if present)


def _days(value: float) -> str:
    return f"{_fmt(value)} {'day' if float(value) == 1 else 'days'}"


def _description(name: str, size: int, share: float, medians: pd.Series, means: pd.Series,
                 traits: list[tuple[str, float]], currency: str | None = None) -> str:
    """One paragraph from the persona's numbers; sentences only for the features present."""
    m, a = medians, means
    parts = [f"{name}: {share:.0%} of users ({size:,})."]
    if "active_days" in m.index:
        seen = _optional([("recency_days" in m.index,
                           f" and was last seen {_days(m.get('recency_days', 0))} before the end of the data")])
        parts.append("The typical member was active on a single day only and did not come back." if m["active_days"] <= 1
                     else f"The typical member was active on {_days(m['active_days'])}{seen}.")
    if "mean_session_s" in m.index:
        parts.append(f"Sessions last about {m['mean_session_s'] / 60:.1f} minutes" + _optional([
            ("events_per_session" in m.index, f" with {_fmt(m.get('events_per_session', 0))} events each"),
            ("bounce_rate" in a.index, f"; {a.get('bounce_rate', 0):.0%} of their sessions bounce"),
        ]) + ".")
    if "converted" in a.index:
        detail = _optional([
            ("revenue" in a.index, f", {format_money(a.get('revenue', 0), currency)} revenue per person"),
            ("aov" in m.index and pd.notna(m.get("aov")), f", median basket {format_money(m.get('aov', 0), currency)}"),
        ])
        bought = float(a["converted"])
        per_buyer = float(a["orders"]) / bought if "orders" in a.index and bought > 0 else None
        orders = (f" ({_fmt(per_buyer)} {'order' if per_buyer == 1 else 'orders'} per buyer on average{detail})"
                  if per_buyer is not None else f" ({detail[2:]})" if detail else "")
        share_text = f"{bought:.0%}" if bought == 0 or bought >= 0.01 else "under 1%"
        parts.append(f"{share_text} of them bought at least once{orders}.")
    if traits:
        said = _traits_text(traits)
        parts.append("Compared with everyone else they " + ", ".join(said[:-1]) + (" and " if len(said) > 1 else "") + said[-1] + ".")
    return " ".join(parts)


@dataclass(frozen=True)
class PersonaCards:
    """Result of :func:`describe_personas`.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``persona``: ``name, users, share, traits, description`` and
        ``median_<feature>`` per feature (``converted`` as ``mean_converted``).
    """

    table: pd.DataFrame

    @property
    def names(self) -> pd.Series:
        """Persona → generated name."""
        return self.table["name"]

    @property
    def text(self) -> str:
        """The largest and the smallest persona, in one sentence."""
        by_share = self.table.sort_values("share", ascending=False, kind="stable")
        largest, smallest = by_share.iloc[0], self.table.sort_values("share", kind="stable").iloc[0]
        if len(self.table) == 1:
            return f"One persona, {largest['name']}, holds every user."
        if f"{largest['share']:.0%}" == f"{smallest['share']:.0%}":
            return f"The {len(self.table)} personas are the same size: {largest['share']:.0%} of users each."
        return (f"The largest persona, {largest['name']}, holds {largest['share']:.0%} of users; "
                f"the smallest, {smallest['name']}, {smallest['share']:.0%}.")


def describe_personas(features: UserFeatures | pd.DataFrame, labels: pd.Series, *,
                      columns: Iterable[str] | None = None, top: int = 3, currency: str | None = None) -> PersonaCards:
    """A persona card per label: size, share, medians, distinguishing traits, name and description.

    What sets a persona apart are its ``top`` features with the largest
    absolute standardized difference from everyone else
    (:func:`~engagement_utils.personas.feature_zscores`, at least 0.3 SD).  The
    name combines an activity word (One-and-done: median of one active day;
    Loyal / Regular / Occasional: activity at least 0.8 / 0.3 SD above the
    others, or less) with a buying word (big spenders, small-basket buyers,
    buyers — when at least half of them bought — or browsers / visitors /
    window shoppers); the description is assembled from the persona's own numbers
    (amounts in ``currency`` when given, else plain).

    Examples
    --------
    >>> f = pd.DataFrame({"active_days": [1, 1, 1, 20, 25, 30], "revenue": [0, 0, 0, 200.0, 300, 250],
    ...                   "converted": [False, False, False, True, True, True]},
    ...                  index=pd.Index(list("abcdef"), name="user_id"))
    >>> cards = describe_personas(f, pd.Series([1, 1, 1, 0, 0, 0], index=f.index))
    >>> cards.names.tolist()
    ['Loyal big spenders', 'One-and-done window shoppers']
    """
    z = feature_zscores(features, labels, columns)
    sizes, medians, means = persona_profiles(features, labels, columns)
    rows, taken = [], set()
    for persona in z.index:  # a handful of personas, not users
        zp = z.loc[persona]
        traits = persona_traits(zp, top)
        buyers = float(means.loc[persona, "converted"]) if "converted" in means.columns else 0.0
        name = _persona_name(zp, medians.loc[persona], buyers, taken, persona)
        taken.add(name)
        size, share = int(sizes.loc[persona, "users"]), float(sizes.loc[persona, "share"])
        rows.append({"persona": persona, "name": name, "users": size, "share": share,
                     "traits": ", ".join(_traits_text(traits)),
                     "description": _description(name, size, share, medians.loc[persona], means.loc[persona], traits,
                                                  currency)})
    cards = pd.DataFrame(rows).set_index("persona")
    cards = cards.join(medians.add_prefix("median_"))
    if "converted" in means.columns:
        cards = cards.drop(columns="median_converted").join(means[["converted"]].add_prefix("mean_"))
    return PersonaCards(table=cards)


# --------------------------------------------------------------------------- readings


def left_out_notes(*reasons: Mapping[str, str]) -> list[str]:
    """One sentence per reason: ``"Left out: a, b (reason)."`` from feature → reason mappings.

    Examples
    --------
    Features read as their labels (:data:`FEATURE_WORDS`), not as column names.

    >>> left_out_notes({"revenue": "no revenue column", "aov": "no revenue column"}, {"mean_session_s": "constant"})
    ['Left out: revenue, average order value (no revenue column).', 'Left out: session length (constant).']
    """
    merged: dict[str, str] = {}
    for mapping in reasons:
        merged.update({k: v for k, v in mapping.items() if k not in merged})
    by_reason: dict[str, list[str]] = {}
    for feature, why in merged.items():
        by_reason.setdefault(why, []).append(feature)
    return [f"Left out: {', '.join(feature_words(f)[0] for f in features)} ({why})." for why, features in by_reason.items()]


def silhouette_text(seg: "Segmentation") -> str:
    """Which k the silhouette prefers and the k used, with their silhouettes."""
    sil = seg.silhouette.set_index("k")["silhouette"]
    lowered = (f"{seg.k_asked} personas were asked for, but the users have only {seg.k} distinct feature "
               f"profiles, so the report uses k = {seg.k}. ") if seg.k_asked is not None else ""
    if not sil.notna().any():
        return lowered + f"No silhouette could be computed (each k tried left a single persona); the report uses k = {seg.k}."
    if lowered:
        return lowered
        return f"No silhouette could be computed (each k tried left a single persona); the report uses k = {seg.k}."
    used = f" ({sil[seg.k]:.2f})." if seg.k in sil.index and pd.notna(sil[seg.k]) else "."
    return f"Silhouette is highest at k = {seg.k_best} ({sil.max():.2f}); the report uses k = {seg.k}{used}"


def projection_text(projection: "Projection") -> str:
    """How much variation the two PCA axes keep."""
    return (f"The two axes keep {sum(projection.explained_variance):.0%} of the variation of the "
            f"{projection.n_features} clustering features.")


def contrast_text(zscores: pd.DataFrame, names: Mapping | pd.Series | None = None) -> str:
    """The persona × feature pair of largest standardized difference."""
    stacked = zscores.abs().stack()
    if stacked.empty or not (stacked > 0).any():
        return "No persona differs from everyone else on any feature."
    persona, feature = stacked.idxmax()
    name = dict(names)[persona] if names is not None else f"Persona {persona}"
    return (f"The sharpest contrast: {name} on {feature_words(str(feature))[0]} "
            f"({zscores.loc[persona, feature]:+.1f} SD from everyone else).")


def best_converting(summary: pd.DataFrame) -> str:
    """The persona(s) with the highest conversion rate, or that all / none converted.

    Examples
    --------
    >>> best_converting(pd.DataFrame({"persona": ["A", "B"], "conversion_rate": [1.0, 1.0]}))
    'all personas converted (100%)'
    >>> best_converting(pd.DataFrame({"persona": ["A", "B"], "conversion_rate": [0.0, 0.0]}))
    'no persona converted'
    >>> best_converting(pd.DataFrame({"persona": ["A", "B"], "conversion_rate": [0.2, 0.5]}))
    'B (50%)'
    """
    rates = summary["conversion_rate"].dropna()
    if rates.empty or rates.max() == 0:
        return "no persona converted"
    if rates.min() == 1:
        return "all personas converted (100%)"
    top = summary.loc[rates.index[rates == rates.max()], "persona"].astype(str).tolist()
    return f"{' and '.join(top)} ({rates.max():.0%})"


def retention_text(curve: pd.DataFrame, day: int = 7) -> str:
    """Range of day-``day`` retention across personas (the last observed day when shorter)."""
    rated = curve[curve["rate"].notna() & (curve["period"] > 0)]
    if rated.empty:
        return "No persona has an observed retention day after day 0 yet: the data are too short."
    day = day if (rated["period"] == day).any() else int(rated["period"][rated["period"] <= day].max()
                                                          if (rated["period"] <= day).any() else rated["period"].min())
    rate = rated[rated["period"] == day].set_index("segment")["rate"]
    return (f"Day-{day} retention runs from {rate.min():.0%} ({rate.idxmin()}) "
            f"to {rate.max():.0%} ({rate.idxmax()}).")


def segment_text(outcomes: "PersonaOutcomes") -> str:
    """Best responding segment per persona among groups of at least ``min_group_size`` users.

    A persona none of whose members converted has no index (the rate of every
    segment is 0 of 0 %): it is named as such instead of being ranked.
    """
    label = outcomes.segment.replace("_", " ")
    if outcomes.segments is None:
        return f"No {outcomes.segment!r} column in a user table or the events: the comparison is left out."
    table = outcomes.segments
    shown = table[table["users"] >= outcomes.min_group_size]
    ranked = shown[shown["index"].notna()].sort_values("index", ascending=False, kind="stable")
    best = ranked.drop_duplicates("persona").set_index("persona")
    converted = outcomes.summary.set_index("persona")["converted"]
    parts = []
    for persona in outcomes.summary["persona"]:  # a handful of personas
        if persona in best.index:
            parts.append(f"{persona}: {best.loc[persona, 'segment']} (index {best.loc[persona, 'index']:.2f})")
        elif converted[persona] == 0:
            parts.append(f"{persona}: no member converted")
        else:
            parts.append(f"{persona}: no {label} with at least {outcomes.min_group_size} users")
    return f"Best responding {label} per persona: " + "; ".join(parts) + "."


def outcomes_text(outcomes: "PersonaOutcomes") -> str:
    """The best converting persona, the retention range and the best responding segments."""
    return " ".join([f"Best converting persona: {best_converting(outcomes.summary)}.",
                     retention_text(outcomes.retention), segment_text(outcomes)])


def key_numbers(features: UserFeatures | pd.DataFrame, seg: "Segmentation", cards: PersonaCards,
                outcomes: "PersonaOutcomes", *, conversion: bool = True) -> dict[str, str]:
    """The report's key numbers, ready for ``display.show_key_numbers`` (no conversion number when ``conversion`` is False)."""
    largest = cards.table.sort_values("share", ascending=False, kind="stable").iloc[0]
    chosen = " (chosen by silhouette)" if seg.chosen_by_silhouette else f" (set; silhouette prefers {seg.k_best})"
    return {
        "Users": f"{len(features):,}",
        "Personas": f"{seg.k}{chosen}",
        "Largest persona": f"{largest['name']} ({largest['share']:.0%})",
        **({"Best converting persona": best_converting(outcomes.summary)} if conversion else {}),
        "Features used for clustering": f"{len(seg.columns)}",
    }


def outcomes_caption(summary: pd.DataFrame) -> str:
    """Caption of the per-persona outcomes table, naming only what it shows (no revenue without a revenue column).

    Examples
    --------
    >>> outcomes_caption(pd.DataFrame({"conversion_rate": [0.5]})), outcomes_caption(pd.DataFrame({"revenue_per_user": [1.0]}))
    ('Conversion per persona', 'Conversion and revenue per persona')
    """
    has_revenue = "revenue_per_user" in summary.columns and summary["revenue_per_user"].notna().any()
    return "Conversion and revenue per persona" if has_revenue else "Conversion per persona"


def rfm_measure(features: UserFeatures | pd.DataFrame) -> str:
    """What RFM's monetary value is on these features: ``"revenue"``, or ``"orders"`` when the data have no revenue.

    The same rule as :func:`~engagement_utils.personas.rfm` (its default ``monetary``).

    Examples
    --------
    >>> rfm_measure(pd.DataFrame({"orders": [1]})), rfm_measure(pd.DataFrame({"orders": [1], "revenue": [9.5]}))
    ('orders', 'revenue')
    """
    from .features import feature_table

    return "revenue" if "revenue" in feature_table(features).columns else "orders"


def rfm_display(summary: pd.DataFrame, measure: str = "revenue") -> pd.DataFrame:
    """:func:`~engagement_utils.personas.rfm_summary` as shown: monetary columns named for what they count.

    Without revenue the "monetary" value is the number of orders, so the
    columns read "Orders share / median / total", not "Monetary ...".

    Examples
    --------
    >>> s = pd.DataFrame({"users": [2], "monetary_share": [1.0], "monetary_median": [3.0], "monetary_total": [6.0]})
    >>> rfm_display(s, "orders").columns.tolist()
    ['users', 'orders_share', 'orders_median', 'orders_total']
    """
    if measure == "revenue":
        return summary
    return summary.rename(columns={c: measure + c[len("monetary"):] for c in summary.columns if str(c).startswith("monetary")})


def rfm_text(summary: pd.DataFrame, measure: str = "revenue") -> str:
    """The segment holding the largest share of the monetary value (or of the orders), and how many did not buy.

    Examples
    --------
    >>> s = pd.DataFrame({"users": [2, 0, 3], "user_share": [0.4, 0.0, 0.6], "monetary_share": [1.0, 0.0, 0.0]},
    ...                  index=pd.Index(["Champions", "Loyal", "No purchase"], name="segment"))
    >>> rfm_text(s)
    'Champions (40% of users) hold 100% of the monetary value. 60% of users bought nothing (No purchase, not scored).'
    >>> rfm_text(s, "orders").split(". ")[0]
    'Champions (40% of users) hold 100% of the orders'
    """
    what = "the monetary value" if measure == "revenue" else f"the {measure}"
    ranked = summary[(summary["users"] > 0) & (summary.index != NO_PURCHASE) & summary["monetary_share"].notna()]
    if ranked.empty or not (ranked["monetary_share"] > 0).any():
        text = ("No user has any monetary value, so no segment holds a share of it." if measure == "revenue"
                else f"No user has any {measure}, so no segment holds a share of them.")
    else:
        top = ranked.sort_values("monetary_share", ascending=False, kind="stable").iloc[0]
        text = f"{top.name} ({top['user_share']:.0%} of users) hold {top['monetary_share']:.0%} of {what}."
    if NO_PURCHASE in summary.index and summary.loc[NO_PURCHASE, "users"] > 0:
        text += f" {summary.loc[NO_PURCHASE, 'user_share']:.0%} of users bought nothing ({NO_PURCHASE}, not scored)."
    return text


def grid_text(grid: pd.DataFrame) -> str:
    """The most common R × F cell of :func:`~engagement_utils.personas.rfm_grid`."""
    top = grid.sort_values("users", ascending=False, kind="stable").iloc[0]
    return f"The most common cell is R = {int(top['R'])}, F = {int(top['F'])} with {plural(int(top['users']), 'buyer')}."


def export_text(path: Path | None, n_users: int) -> str:
    """What :func:`~engagement_utils.personas.export_personas` wrote (or that it wrote nothing)."""
    if path is None:
        return "No export: the export_dir parameter is empty."
    return f"Wrote {n_users:,} assignments to {path.as_posix()} (it holds user ids: not part of the report)."
