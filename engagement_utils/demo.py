"""Deterministic synthetic demo data with known truth.

The generator simulates an e-commerce app whose users belong to hidden
personas.  Everything an analysis should recover is written to
``truth.json`` next to the data: the generating parameters, each user's true
persona, the expected retention and conversion curves, and the true effect of
the demo A/B test.

Generative model (per user ``u`` with signup day ``s``, persona ``P``)
--------------------------------------------------------------------
* Day ``s`` (day 0) is always active.  On day ``s + k`` (k >= 1) the user is
  active with probability ``a(u, k) = min(0.98, r_P(k) * m_u * t_u(k))`` where
  ``r_P(k) = plateau + (day1 - plateau) * exp(-(k - 1) / tau)`` is the
  persona's retention curve, ``m_u`` the user's multiplier (platform,
  onboarding messages, number of messaging channels) and ``t_u(k)`` the A/B
  treatment effect on activity (1 unless treated and after assignment).
  Days are calendar days in UTC, independent given these probabilities, so
  the expected classic day-k retention of a group is the mean of ``a(u, k)``.
* An active day has ``1 + Poisson(extra_sessions_P)`` sessions (at most 6),
  each in its own slot of the day separated by more than an hour, so a
  30-minute sessionization recovers them exactly.
* On an active day the user purchases with probability ``q_P`` (times the A/B
  effect on purchases from the assignment day on); the purchase is the end of
  the day's last session (product view, add_to_cart, begin_checkout,
  purchase with log-normal revenue).
* Other sessions bounce (``app_open`` only) with probability ``bounce_P``,
  otherwise view ``1 + Poisson(views_P - 1)`` screens, may search, add to
  cart without buying, see an in-app message (users reachable in-app) and
  answer an NPS survey.
* A/B test ``checkout_redesign``: users active during the experiment window
  are assigned 50/50 at their first event in the window.

Examples
--------
>>> data = generate_demo_data(n_users=200, days=30, random_state=1)
>>> sorted(data)
['assignments', 'events', 'spend', 'surveys', 'truth', 'users']
>>> data["events"]["user_id"].nunique()
200
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["PERSONAS", "LIGHT_MIX", "generate_demo_data", "write_demo_data", "main", "DEFAULT_DIR"]

DEFAULT_DIR = Path("data/demo")
ACTIVITY_CAP = 0.98
SECONDS_PER_DAY = 86_400
DAY_START_S = 6 * 3600  # sessions happen between 06:00 and 23:00 UTC
DAY_SPAN_S = 17 * 3600
SESSION_MARGIN_S = 5400  # keeps > 1 h between sessions whatever their length
MAX_SESSIONS_PER_DAY = 6
MAX_VIEWS = 14
MAX_GAP_S = 90
CHUNK_USERS = 50_000

VIEW_SCREENS = ("home", "category", "product", "search_results", "account")

# One row per persona, the columns named once in _PERSONA_FIELDS so the personas read side by side;
# view_mix is the share of each of VIEW_SCREENS among the screens viewed.
_PERSONA_FIELDS = ("share", "day1", "plateau", "tau", "extra_sessions", "views", "gap_s",
                   "bounce", "purchase", "revenue_mean", "cart", "survey_promoter", "view_mix")
_PERSONA_ROWS = {
    #                  share day1  plateau tau   extra views gap_s bounce purchase revenue cart  promoter view_mix
    "power_user":     (0.15, 0.75, 0.40,   10.0, 0.8,  5.0,  45.0, 0.05,  0.22,    65.0,   0.25, 0.7,     (0.25, 0.20, 0.35, 0.10, 0.10)),
    "casual_browser": (0.35, 0.35, 0.10,   6.0,  0.2,  2.5,  20.0, 0.35,  0.02,    40.0,   0.05, 0.3,     (0.45, 0.30, 0.20, 0.02, 0.03)),
    "bargain_hunter": (0.20, 0.50, 0.20,   8.0,  0.4,  4.0,  30.0, 0.10,  0.12,    18.0,   0.45, 0.4,     (0.15, 0.20, 0.30, 0.33, 0.02)),
    "one_and_done":   (0.30, 0.06, 0.0,    2.0,  0.0,  2.0,  15.0, 0.50,  0.03,    35.0,   0.05, 0.15,    (0.50, 0.30, 0.15, 0.03, 0.02)),
}
PERSONAS: dict[str, dict] = {name: dict(zip(_PERSONA_FIELDS, row, strict=True)) for name, row in _PERSONA_ROWS.items()}

# Mostly one-visit users with a tail of regulars: about 10 events per user over
# 180 days (the default mix gives about 150), as in a typical product export.
LIGHT_MIX = {"power_user": 0.004, "casual_browser": 0.065, "bargain_hunter": 0.011, "one_and_done": 0.92}

PLATFORMS = ("ios", "android", "web")
PLATFORM_SHARE = (0.40, 0.35, 0.25)
PLATFORM_MULTIPLIER = {"ios": 1.0, "android": 0.95, "web": 0.85}
ACQUISITION_CHANNELS = ("organic", "paid_search", "paid_social", "referral")
ACQUISITION_SHARE = (0.40, 0.25, 0.25, 0.10)
TRUE_CAC = {"paid_search": 4.0, "paid_social": 2.5}
COUNTRIES = ("US", "GB", "DE", "FR", "IN")
COUNTRY_SHARE = (0.40, 0.20, 0.15, 0.10, 0.15)
ONBOARDING_MULTIPLIER = 1.20
EXTRA_CHANNEL_MULTIPLIER = 1.10
# Which messaging channels a user can be reached by depends on the platform
# (no push on web): this confounds "more channels" with "app user".
CHANNEL_REACH = {"email": {"ios": 0.8, "android": 0.8, "web": 0.8},
                 "push": {"ios": 0.6, "android": 0.65, "web": 0.0},
                 "in_app": {"ios": 0.5, "android": 0.5, "web": 0.3}}
ONBOARDING_SHARE = {"ios": 0.6, "android": 0.6, "web": 0.4}

EXPERIMENT = dict(
    name="checkout_redesign", window_start_frac=0.5, window_end_frac=0.75,
    activity_lift=0.15, purchase_lift=0.20, treatment_share=0.5,
)
IN_APP_PROB, IN_APP_CLICK = 0.12, 0.2
SURVEY_PROB, SURVEY_ANSWER = 0.03, 0.5
TRUTH_MAX_K = 30


def retention_curve(persona: str, k: np.ndarray) -> np.ndarray:
    """Persona's base probability of being active on day ``k`` after signup (k=0 -> 1)."""
    p = PERSONAS[persona]
    k = np.asarray(k, dtype=float)
    curve = p["plateau"] + (p["day1"] - p["plateau"]) * np.exp(-(np.maximum(k, 1) - 1) / p["tau"])
    return np.where(k == 0, 1.0, curve)


def _persona_array(key: str, persona_idx: np.ndarray) -> np.ndarray:
    return np.array([PERSONAS[name][key] for name in PERSONAS], dtype=float)[persona_idx]


def _persona_shares(persona_mix: Mapping[str, float] | None) -> dict[str, float]:
    """Share of each persona: the defaults of :data:`PERSONAS`, or ``persona_mix`` (weights, normalized)."""
    if persona_mix is None:
        return {name: params["share"] for name, params in PERSONAS.items()}
    unknown = sorted(set(persona_mix) - set(PERSONAS))
    if unknown:
        raise ValueError(f"persona_mix: unknown persona(s) {unknown}; allowed: {', '.join(PERSONAS)}")
    weights = np.array([float(persona_mix.get(name, 0.0)) for name in PERSONAS])
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("persona_mix: weights must be >= 0 with a positive sum")
    return dict(zip(PERSONAS, (weights / weights.sum()).tolist()))


def _simulate_users(rng: np.random.Generator, n_users: int, days: int, shares: dict[str, float]) -> pd.DataFrame:
    names = list(PERSONAS)
    persona = rng.choice(len(names), size=n_users, p=[shares[n] for n in names])
    platform = rng.choice(len(PLATFORMS), size=n_users, p=PLATFORM_SHARE)
    platform_name = np.array(PLATFORMS)[platform]
    reach = {ch: rng.random(n_users) < pd.Series(platform_name).map(share).to_numpy() for ch, share in CHANNEL_REACH.items()}
    n_channels = sum(r.astype(int) for r in reach.values())
    channels = pd.Series("", index=range(n_users))
    for ch, flags in reach.items():
        channels = channels + np.where(flags, ch + "|", "")
    channels = channels.str.rstrip("|").to_numpy()
    onboarding = rng.random(n_users) < pd.Series(platform_name).map(ONBOARDING_SHARE).to_numpy()
    multiplier = (
        pd.Series(platform_name).map(PLATFORM_MULTIPLIER).to_numpy()
        * np.where(onboarding, ONBOARDING_MULTIPLIER, 1.0)
        * EXTRA_CHANNEL_MULTIPLIER ** np.maximum(n_channels - 1, 0)
    )
    width = len(str(n_users))
    return pd.DataFrame({
        "user_id": "u" + pd.Series(np.arange(1, n_users + 1)).astype(str).str.zfill(width),
        "persona_idx": persona,
        "persona": np.array(names)[persona],
        "signup_day": rng.integers(0, days, size=n_users),
        "platform": platform_name,
        "country": np.array(COUNTRIES)[rng.choice(len(COUNTRIES), size=n_users, p=COUNTRY_SHARE)],
        "acquisition_channel": np.array(ACQUISITION_CHANNELS)[rng.choice(len(ACQUISITION_CHANNELS), size=n_users, p=ACQUISITION_SHARE)],
        "messaging_channels": channels,
        "n_messaging_channels": n_channels,
        "onboarding": onboarding,
        "multiplier": multiplier,
        "in_app_reachable": reach["in_app"],
    })


def _segments(counts: np.ndarray):
    """Owner index and position-within-owner for ``counts`` items per owner (vectorized)."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def _simulate_days(rng, users: pd.DataFrame, days: int, window: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Active user-days (with purchase flag) and experiment assignments for a chunk of users."""
    n_days = days - users["signup_day"].to_numpy()
    owner, k = _segments(n_days)
    persona = users["persona_idx"].to_numpy()[owner]
    day = users["signup_day"].to_numpy()[owner] + k
    base = np.zeros(owner.size)
    for idx, name in enumerate(PERSONAS):
        sel = persona == idx
        base[sel] = retention_curve(name, k[sel])
    prob = np.minimum(ACTIVITY_CAP, base * users["multiplier"].to_numpy()[owner])
    prob[k == 0] = 1.0
    u = rng.random(owner.size)
    active_pre = u < prob

    # Assignment: first active day inside the experiment window.
    candidate = active_pre & (day >= window[0]) & (day < window[1])
    first = np.full(len(users), np.iinfo(np.int64).max)
    np.minimum.at(first, owner[candidate], day[candidate])
    in_experiment = first < np.iinfo(np.int64).max
    treated = in_experiment & (rng.random(len(users)) < EXPERIMENT["treatment_share"])
    assign_day = np.where(in_experiment, first, -1)

    after = treated[owner] & (day > assign_day[owner])
    active = np.where(after, u < np.minimum(ACTIVITY_CAP, prob * (1 + EXPERIMENT["activity_lift"])), active_pre)
    q = _persona_array("purchase", persona) * np.where(treated[owner] & (day >= assign_day[owner]), 1 + EXPERIMENT["purchase_lift"], 1.0)
    purchase = rng.random(owner.size) < q
    keep = active
    user_days = pd.DataFrame({"owner": owner[keep], "k": k[keep], "day": day[keep], "purchase": purchase[keep]})
    assignments = pd.DataFrame({"owner": np.flatnonzero(in_experiment), "assign_day": assign_day[in_experiment],
                                "treated": treated[in_experiment]})
    return user_days, assignments


def _simulate_sessions(rng, users: pd.DataFrame, user_days: pd.DataFrame) -> pd.DataFrame:
    owner = user_days["owner"].to_numpy()
    persona = users["persona_idx"].to_numpy()[owner]
    n_sess = 1 + np.minimum(rng.poisson(_persona_array("extra_sessions", persona)), MAX_SESSIONS_PER_DAY - 1)
    day_idx, j = _segments(n_sess)
    n = n_sess[day_idx]
    slot = DAY_SPAN_S / n
    start = (user_days["day"].to_numpy()[day_idx] * SECONDS_PER_DAY + DAY_START_S + j * slot
             + rng.random(day_idx.size) * (slot - SESSION_MARGIN_S))
    last = j == n - 1
    purchase = last & user_days["purchase"].to_numpy()[day_idx]
    p = persona[day_idx]
    bounce = ~purchase & (rng.random(day_idx.size) < _persona_array("bounce", p))
    views = np.where(bounce, 0, 1 + np.minimum(rng.poisson(_persona_array("views", p) - 1), MAX_VIEWS - 1))
    cart = ~bounce & ~purchase & (rng.random(day_idx.size) < _persona_array("cart", p))
    sess_owner = owner[day_idx]
    in_app = ~bounce & users["in_app_reachable"].to_numpy()[sess_owner] & (rng.random(day_idx.size) < IN_APP_PROB)
    survey = ~bounce & (user_days["k"].to_numpy()[day_idx] >= 1) & (rng.random(day_idx.size) < SURVEY_PROB)
    return pd.DataFrame({
        "owner": sess_owner, "persona": p, "start": start, "views": views, "cart": cart, "purchase": purchase,
        "in_app": in_app, "in_app_click": in_app & (rng.random(day_idx.size) < IN_APP_CLICK),
        "survey": survey, "survey_answer": survey & (rng.random(day_idx.size) < SURVEY_ANSWER),
    })


def _session_events(rng, sessions: pd.DataFrame) -> pd.DataFrame:
    """Expand sessions into ordered events (vectorized over all sessions)."""
    n_sessions = len(sessions)
    persona = sessions["persona"].to_numpy()

    blocks = [pd.DataFrame({"session": np.arange(n_sessions), "order": 0.0, "event": "app_open", "screen": "home"})]
    views = sessions["views"].to_numpy()
    v_sess, v_pos = _segments(views)
    mix = np.array([PERSONAS[name]["view_mix"] for name in PERSONAS])[persona[v_sess]]
    choice = (rng.random(v_sess.size)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    screen = np.array(VIEW_SCREENS)[np.minimum(choice, len(VIEW_SCREENS) - 1)]
    blocks.append(pd.DataFrame({"session": v_sess, "order": 1.0 + v_pos,
                                "event": np.where(screen == "search_results", "search", "screen_view"), "screen": screen}))
    tail = views + 1.0
    for column, steps in (
        ("in_app", [("in_app_message_shown", "home", 0.1)]),
        ("in_app_click", [("in_app_message_clicked", "home", 0.2)]),
        ("cart", [("screen_view", "product", 1.0), ("add_to_cart", "product", 1.1)]),
        ("purchase", [("screen_view", "product", 1.0), ("add_to_cart", "product", 1.1), ("screen_view", "cart", 1.2),
                      ("begin_checkout", "checkout", 1.3), ("purchase", "checkout", 1.4)]),
        ("survey", [("survey_shown", "home", 2.0)]),
        ("survey_answer", [("survey_answered", "home", 2.1)]),
    ):
        mask = sessions[column].to_numpy()
        for event, scr, offset in steps:
            idx = np.flatnonzero(mask)
            blocks.append(pd.DataFrame({"session": idx, "order": tail[idx] + offset, "event": event, "screen": scr}))
    events = pd.concat(blocks, ignore_index=True).sort_values(["session", "order"], kind="stable", ignore_index=True)
    sess = events["session"].to_numpy()
    gap = np.minimum(rng.exponential(_persona_array("gap_s", persona[sess])), MAX_GAP_S)
    first = np.r_[True, sess[1:] != sess[:-1]]
    gap[first] = 0.0
    cum = np.cumsum(gap)
    session_offset = np.maximum.accumulate(np.where(first, cum, 0.0))
    events["seconds"] = sessions["start"].to_numpy()[sess] + (cum - session_offset)
    is_purchase = events["event"].to_numpy() == "purchase"
    mean = _persona_array("revenue_mean", persona[sess[is_purchase]])
    sigma = 0.6
    revenue = np.full(len(events), np.nan)
    revenue[is_purchase] = np.round(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma), 2)
    events["revenue"] = revenue
    return events


def _expected_activity(users: pd.DataFrame, assignments: pd.DataFrame, days: int, max_k: int):
    """Expected activity and purchase probabilities a(u, k), q(u, k) for k = 0..max_k (users x k)."""
    k = np.arange(max_k + 1)
    base = np.vstack([retention_curve(name, k) for name in PERSONAS])[users["persona_idx"].to_numpy()]
    prob = np.minimum(ACTIVITY_CAP, base * users["multiplier"].to_numpy()[:, None])
    day = users["signup_day"].to_numpy()[:, None] + k[None, :]
    treated = np.zeros(len(users), bool)
    assign_day = np.full(len(users), -1)
    treated[assignments["owner"]] = assignments["treated"].to_numpy()
    assign_day[assignments["owner"]] = assignments["assign_day"].to_numpy()
    after = treated[:, None] & (day > assign_day[:, None])
    prob = np.where(after, np.minimum(ACTIVITY_CAP, prob * (1 + EXPERIMENT["activity_lift"])), prob)
    prob[:, 0] = 1.0
    q = _persona_array("purchase", users["persona_idx"].to_numpy())[:, None] * np.where(
        treated[:, None] & (day >= assign_day[:, None]), 1 + EXPERIMENT["purchase_lift"], 1.0)
    observed = day < days
    return prob, q, observed


def _experiment_truth(users, assignments, days) -> dict:
    """Expected day-7 retention and 14-day conversion after assignment, per arm, given the realized users."""
    if assignments.empty:
        return {}
    owner = assignments["owner"].to_numpy()
    treated = assignments["treated"].to_numpy()
    persona = users["persona_idx"].to_numpy()[owner]
    offset = assignments["assign_day"].to_numpy() - users["signup_day"].to_numpy()[owner]
    out = {}
    for arm, is_treated in (("control", False), ("treatment", True)):
        sel = treated == is_treated
        k = offset[sel, None] + np.arange(15)[None, :]
        base = np.vstack([retention_curve(name, np.arange(k.max() + 1)) for name in PERSONAS])[persona[sel][:, None], k]
        act_mult = 1 + EXPERIMENT["activity_lift"] if is_treated else 1.0
        a = np.minimum(ACTIVITY_CAP, base * users["multiplier"].to_numpy()[owner[sel], None] * act_mult)
        a[:, 0] = 1.0  # the assignment day is active by construction
        q = _persona_array("purchase", persona[sel])[:, None] * (1 + EXPERIMENT["purchase_lift"] if is_treated else 1.0)
        converted = 1 - np.prod(1 - a[:, :14] * q, axis=1)
        out[arm] = {"users": int(sel.sum()), "retained_d7": float(a[:, 7].mean()), "converted_14d": float(converted.mean())}
    out["difference"] = {m: out["treatment"][m] - out["control"][m] for m in ("retained_d7", "converted_14d")}
    return out


def _curve_truth(prob, q, observed, groups: pd.Series, max_k: int) -> dict:
    """Expected day-k retention and purchase-within-W-days per group, over users observed that long."""
    out = {}
    no_purchase = np.cumprod(1 - prob * q, axis=1)
    for name, idx in groups.groupby(groups, observed=True).indices.items():
        obs = observed[idx]
        ret = np.where(obs, prob[idx], np.nan)
        conv = np.where(obs, 1 - no_purchase[idx], np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nobody observed that long
            out[str(name)] = {
                "retention": [round(float(v), 6) for v in np.nanmean(ret, axis=0)],
                "purchase_within_days": {str(w): round(float(np.nanmean(conv[:, w - 1])), 6) for w in (1, 7, 14, 30) if w <= max_k + 1},
                "users": int(len(idx)),
            }
    return out


def generate_demo_data(n_users: int = 5000, days: int = 120, random_state: int = 42, start: str = "2024-01-01",
                       persona_mix: Mapping[str, float] | None = None) -> dict:
    """Generate the demo tables and their truth.

    Parameters
    ----------
    n_users : int, default 5000
        Users acquired uniformly over the period (about 90 events each).
    days : int, default 120
        Length of the observation period in days.
    random_state : int, default 42
        Seed of the random generator: the same value gives identical tables.
    start : str, default "2024-01-01"
        First calendar day (UTC).
    persona_mix : dict, optional
        Weights per persona name (normalized; missing personas get 0) instead
        of the default shares, e.g. :data:`LIGHT_MIX` (about 10 events per user
        over 180 days, for benchmark-sized logs).  The truth records the shares used.

    Returns
    -------
    dict
        ``events``, ``users``, ``assignments``, ``spend``, ``surveys``
        (DataFrames in the canonical raw schema) and ``truth`` (dict).

    Examples
    --------
    >>> d = generate_demo_data(n_users=100, days=20, random_state=3)
    >>> set(d["events"]["event"]) >= {"app_open", "purchase"}
    True
    """
    if n_users < 1 or days < 2:
        raise ValueError("n_users must be >= 1 and days >= 2")
    rng = np.random.default_rng(random_state)
    origin = pd.Timestamp(start, tz="UTC")
    shares = _persona_shares(persona_mix)
    users = _simulate_users(rng, n_users, days, shares)
    window = (int(days * EXPERIMENT["window_start_frac"]), int(days * EXPERIMENT["window_end_frac"]))

    event_frames, assignment_frames, survey_frames = [], [], []
    # Chunks bound memory for benchmark-sized runs; each chunk is fully vectorized.
    for chunk_start in range(0, n_users, CHUNK_USERS):
        chunk = users.iloc[chunk_start:chunk_start + CHUNK_USERS].reset_index(drop=True)
        user_days, assigned = _simulate_days(rng, chunk, days, window)
        sessions = _simulate_sessions(rng, chunk, user_days)
        ev = _session_events(rng, sessions)
        owner = sessions["owner"].to_numpy()[ev["session"].to_numpy()]
        ev["owner"] = owner + chunk_start
        event_frames.append(ev.drop(columns=["session", "order"]))
        assigned["owner"] += chunk_start
        assignment_frames.append(assigned)

    ev = pd.concat(event_frames, ignore_index=True)
    assignments = pd.concat(assignment_frames, ignore_index=True)
    owner = ev["owner"].to_numpy()
    timestamps = origin + pd.to_timedelta(np.round(ev["seconds"].to_numpy(), 3), unit="s")
    events = pd.DataFrame({
        "user_id": users["user_id"].to_numpy()[owner],
        "timestamp": timestamps,
        "event": ev["event"].to_numpy(),
        "screen": ev["screen"].to_numpy(),
        "platform": users["platform"].to_numpy()[owner],
        "country": users["country"].to_numpy()[owner],
        "revenue": ev["revenue"].to_numpy(),
    }).sort_values(["timestamp", "user_id"], kind="stable", ignore_index=True)

    first_seen = events.groupby("user_id", sort=False)["timestamp"].min()
    users["signup_at"] = users["user_id"].map(first_seen)

    # Survey answers: one NPS score per answered survey.
    answered = events.loc[events["event"] == "survey_answered", ["user_id", "timestamp"]].reset_index(drop=True)
    persona_of = users.set_index("user_id")["persona"]
    promoter = answered["user_id"].map(persona_of).map({k: v["survey_promoter"] for k, v in PERSONAS.items()}).to_numpy()
    draw = rng.random(len(answered))
    score = np.where(draw < promoter, rng.integers(9, 11, len(answered)),
                     np.where(draw < promoter + (1 - promoter) / 2, rng.integers(7, 9, len(answered)), rng.integers(0, 7, len(answered))))
    surveys = answered.assign(score=score, kind="nps")

    # Assignment timestamp: the user's first event on the assignment day.
    assign_user = users["user_id"].to_numpy()[assignments["owner"].to_numpy()]
    day_of_event = ((events["timestamp"] - origin) // pd.Timedelta(days=1)).to_numpy()
    first_on_day = pd.DataFrame({"user_id": events["user_id"], "day": day_of_event, "ts": events["timestamp"]}).groupby(
        ["user_id", "day"], sort=False)["ts"].min()
    assigned_at = first_on_day.reindex(pd.MultiIndex.from_arrays([assign_user, assignments["assign_day"].to_numpy()])).to_numpy()
    assignment_table = pd.DataFrame({
        "user_id": assign_user, "experiment": EXPERIMENT["name"],
        "variant": np.where(assignments["treated"], "treatment", "control"), "assigned_at": assigned_at,
    }).sort_values(["assigned_at", "user_id"], ignore_index=True)

    # Spend: paid channels cost their true CAC per acquired user, with daily noise.
    acquired = users.assign(date=(origin + pd.to_timedelta(users["signup_day"], unit="D")).dt.tz_localize(None).dt.normalize())
    paid = acquired[acquired["acquisition_channel"].isin(list(TRUE_CAC))]
    daily = paid.groupby(["date", "acquisition_channel"]).size().rename("new_users").reset_index()
    grid = pd.MultiIndex.from_product([pd.date_range(origin.tz_localize(None), periods=days), list(TRUE_CAC)], names=["date", "acquisition_channel"])
    daily = daily.set_index(["date", "acquisition_channel"]).reindex(grid, fill_value=0).reset_index()
    noise = rng.normal(1.0, 0.1, len(daily)).clip(0.7, 1.3)
    spend = pd.DataFrame({"date": daily["date"].dt.strftime("%Y-%m-%d"), "channel": daily["acquisition_channel"],
                          "cost": np.round(daily["new_users"] * daily["acquisition_channel"].map(TRUE_CAC) * noise, 2)})

    prob, q, observed = _expected_activity(users, assignments, days, TRUTH_MAX_K)
    truth = {
        "random_state": random_state, "n_users": n_users, "days": days, "start": str(origin.date()),
        "timezone": "UTC",
        "personas": {name: {k: (list(v) if isinstance(v, tuple) else v) for k, v in {**params, "share": shares[name]}.items()}
                     for name, params in PERSONAS.items()},
        "persona_counts": users["persona"].value_counts().sort_index().astype(int).to_dict(),
        "retention_definition": "classic calendar-day retention in UTC from the first event (day 0 = signup day)",
        "by_persona": _curve_truth(prob, q, observed, users["persona"], TRUTH_MAX_K),
        "overall": _curve_truth(prob, q, observed, pd.Series("all", index=users.index), TRUTH_MAX_K)["all"],
        "by_onboarding": _curve_truth(prob, q, observed, users["onboarding"].map({True: "with", False: "without"}), TRUTH_MAX_K),
        "by_n_messaging_channels": _curve_truth(prob, q, observed, users["n_messaging_channels"].astype(str), TRUTH_MAX_K),
        "effects": {
            "onboarding_activity_multiplier": ONBOARDING_MULTIPLIER,
            "extra_messaging_channel_multiplier": EXTRA_CHANNEL_MULTIPLIER,
            "platform_activity_multiplier": PLATFORM_MULTIPLIER,
            "channel_reach_by_platform": CHANNEL_REACH,
            "note": "more messaging channels and onboarding raise activity causally, but are also more common on apps than web (confounded)",
        },
        "experiment": {
            **EXPERIMENT, "window_days": list(window),
            "window": [str((origin + pd.Timedelta(days=window[0])).date()), str((origin + pd.Timedelta(days=window[1])).date())],
            "metric_definitions": {
                "retained_d7": "active on the 7th calendar day (UTC) after the assignment day",
                "converted_14d": "a purchase on the assignment day (after assignment) or the 13 calendar days after it",
            },
            "expected": _experiment_truth(users, assignments, days),
        },
        "true_cac": TRUE_CAC,
        "user_persona": dict(zip(users["user_id"], users["persona"])),
    }
    users_table = users[["user_id", "signup_at", "platform", "country", "acquisition_channel",
                         "messaging_channels", "n_messaging_channels", "onboarding"]].copy()
    return {"events": events, "users": users_table, "assignments": assignment_table, "spend": spend,
            "surveys": surveys, "truth": truth}


def write_demo_data(out_dir=DEFAULT_DIR, n_users: int = 5000, days: int = 120, random_state: int = 42,
                    start: str = "2024-01-01", csv: bool = False,
                    persona_mix: Mapping[str, float] | None = None) -> dict[str, Path]:
    """Generate the demo data and write it to ``out_dir``; return the written paths.

    Events go to ``events.parquet`` (and ``events.csv.gz`` with ``csv=True``),
    the other tables to CSV, the truth to ``truth.json``.
    """
    data = generate_demo_data(n_users=n_users, days=days, random_state=random_state, start=start, persona_mix=persona_mix)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"events": out / "events.parquet"}
    data["events"].to_parquet(paths["events"], index=False)
    if csv:
        paths["events_csv"] = out / "events.csv.gz"
        data["events"].to_csv(paths["events_csv"], index=False)
    for name in ("users", "assignments", "spend", "surveys"):
        paths[name] = out / f"{name}.csv"
        data[name].to_csv(paths[name], index=False)
    paths["truth"] = out / "truth.json"
    paths["truth"].write_text(json.dumps(data["truth"], indent=1, sort_keys=True))
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``engagement-demo-data [--out DIR] [--users N] [--days D] [--random-state S] [--csv] [--light]``."""
    parser = argparse.ArgumentParser(description="Generate the deterministic demo data set with its truth file.")
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="output folder (default: data/demo)")
    parser.add_argument("--users", type=int, default=5000, help="number of users (default: 5000)")
    parser.add_argument("--days", type=int, default=120, help="days of history (default: 120)")
    parser.add_argument("--random-state", type=int, default=42, help="seed of the random generator (default: 42)")
    parser.add_argument("--start", default="2024-01-01", help="first day, YYYY-MM-DD (default: 2024-01-01)")
    parser.add_argument("--csv", action="store_true", help="also write events as gzipped CSV")
    parser.add_argument("--light", action="store_true",
                        help="light users (LIGHT_MIX persona shares: about 10 events per user over 180 days)")
    args = parser.parse_args(argv)
    paths = write_demo_data(args.out, n_users=args.users, days=args.days, random_state=args.random_state, start=args.start, csv=args.csv,
                            persona_mix=LIGHT_MIX if args.light else None)
    n_events = len(pd.read_parquet(paths["events"], columns=["event"]))
    print(f"wrote {n_events:,} events for {args.users:,} users over {args.days} days to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
