"""Allow ``python -m agentops``."""

from __future__ import annotations

from agentops.cli import main

if __name__ == "__main__":
    main()
