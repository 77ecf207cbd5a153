"""Announcements that reach people: Slack, Microsoft Teams and generic webhooks.

Transitions write messages to a committed outbox in the same batch as the ledger change
(:mod:`.outbox`); a sender drains it off the agents' hot path (:mod:`.sender`), rendering each
for its channel (:mod:`.render`) and posting it (:mod:`.deliver`). Nothing here is imported by
``record`` unless the policy has routes.
"""
