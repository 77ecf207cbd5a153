"""The escalation policy: loading and validating rules, compiled matchers, the engine.

Importing this package imports no Kubernetes, HTTP or CEL module; CEL is imported only while
loading a rule that has a ``when:`` condition.
"""
