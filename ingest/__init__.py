"""The spreadsheet loader: partners' files in the inbox -> the ``raw`` schema of the build file.

Flow (one module per step): discover -> read -> header -> validate (normalise, places) -> load.
The contract lives in ``registry.yml``; ``pipeline.run_ingest`` is the entry point.
"""
