"""Shared fixtures: the demo data set is generated once per test session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engagement_utils import demo, io

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "data" / "demo"


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """Folder with the default demo data, generated if missing (as `make data` does)."""
    if not (DEMO_DIR / "truth.json").exists():
        demo.write_demo_data(DEMO_DIR)
    return DEMO_DIR


@pytest.fixture(scope="session")
def demo_truth(demo_dir) -> dict:
    return json.loads((demo_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def demo_events(demo_dir):
    """Canonical demo events; treat as read-only."""
    return io.load_events(demo_dir / "events.parquet")


@pytest.fixture(scope="session")
def demo_users(demo_dir):
    return io.load_users(demo_dir / "users.csv")


@pytest.fixture(scope="session")
def demo_assignments(demo_dir):
    return io.load_assignments(demo_dir / "assignments.csv")
