"""Token FinOps: what each request cost, kept, and reported.

``prices`` prices a model's tokens offline (bundled table, ``[prices]`` overrides),
``recorder`` turns finished exchanges into usage records and budget counts, ``meter``
counts streams and replies whose provider reports no usage, ``store`` keeps the records
in SQLite under the state dir off the event loop, ``reports`` holds the SQL behind the
usage endpoints, and ``window`` parses their time ranges. The HTTP side is
``server/routes/usage.py``; the limits the counts feed are ``policy/tiers.py`` and
``server/admission/limits.py``.
"""
