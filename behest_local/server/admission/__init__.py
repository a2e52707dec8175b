"""Admission: the checks a request passes before a route handles it, in the order they run.

``cors`` (answers preflights before anything else, and refuses a foreign origin), ``auth``
(credential → ``principal``: an API key, a Behest JWT or the dashboard token), then
``limits`` (per-IP, project, user, tier and budget counters). Each refusal returns a response;
the gateway middleware (``server/middleware.py``) alone ends the exchange.
"""
