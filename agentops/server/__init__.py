"""``agentops serve``: the HTTP receiver for webhooks (Alertmanager, Flux, Argo CD, GitHub).

Why a package of small parts: the request path must stay tiny and never touch git, so it is
split from the one thing that does. A request is authenticated (:mod:`.auth`), parsed by the
same adapters ``agentops hook`` uses, written durably to the spool (:mod:`.spool`) and answered
202; a single committer thread (:mod:`.committer`) drains the spool into the pipeline in group
commits. :mod:`.app` wires these into a Starlette app, :mod:`.run` into uvicorn. Starlette and
uvicorn are an optional extra (``pip install agentops-ledger[serve]``), imported only by
``serve``.
"""

from __future__ import annotations

import importlib.util

from agentops import DISTRIBUTION
from agentops.errors import AgentopsError

_missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
if _missing:
    raise AgentopsError(
        f"agentops serve needs {' and '.join(_missing)}: pip install '{DISTRIBUTION}[serve]'"
    )
