"""Where the ledger meets the disk: the journal, the derived-state cache, reading and writing
the ledger files, and rebuilding state from what is committed.

The ledger package below is text in, text out; this package owns every file it reads or
writes, so the pipeline, the reports and the commands share one way to load and save.
"""
