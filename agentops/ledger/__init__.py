"""The three ledger files: entry types, rendering, parsing, in-place edits, text safety."""
