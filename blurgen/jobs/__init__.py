"""Job kinds: a job couples a source (which samples exist) with a maker (how to make one).

See docs/internals.md. ``build_job(kind, params, root)`` is what ``blurgen rerun`` uses.
"""
