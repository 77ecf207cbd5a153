"""Reading the ledger back: ``stats``, ``check`` and ``recall`` (pure logic, plus the loader)."""
