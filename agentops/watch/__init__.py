"""``agentops watch``: the cluster as a source of events, on the official kubernetes client.

Layout (kopf's design): :mod:`cycle` is one fully tested list-then-watch of one resource;
:mod:`loop` is the tiny forever-loop around it (410 -> list again, errors -> backoff);
:mod:`resources` turns raw objects into events with the pure converters of
:mod:`agentops.sources.kubernetes`; :mod:`batcher` groups events into one pipeline call and
one commit per window and only then advances :mod:`checkpoint`; :mod:`leader` makes sure two
replicas never both write; :mod:`runner` wires them together. Only this package imports
``kubernetes``.
"""
