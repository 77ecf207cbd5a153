"""agentops: git-native incident memory for autonomous operations agents."""

from __future__ import annotations

__version__ = "0.1.0"
# The name to `pip install`: "agentops" on PyPI is an unrelated observability SDK for AI agents.
DISTRIBUTION = "agentops-ledger"
