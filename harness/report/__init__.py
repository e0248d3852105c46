"""Conformance reports: the data (schema), how a run collects it, and
what is made from it (Markdown, HTML, summaries, diffs, release copies)."""
