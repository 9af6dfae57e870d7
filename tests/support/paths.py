"""Where the checkout is, for tests that read its files (agents.yaml, contracts/, the console page)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
