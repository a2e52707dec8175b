"""Token FinOps: what each request cost, kept, and reported.

``prices`` prices a model's tokens offline (bundled table, ``[prices]`` overrides),
``recorder`` turns finished exchanges into usage records and budget counts, ``store``
keeps them in SQLite under the state dir off the event loop, ``window`` parses the usage
endpoints' time ranges. The HTTP side is ``server/usage_routes.py``.
"""
