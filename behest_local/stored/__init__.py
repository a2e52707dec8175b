"""Stored Responses state: stored responses, their input items, and conversations.

``database.StoredState`` owns ``<state dir>/data/responses.sqlite3`` and its worker thread;
``responses`` and ``conversations`` are the queries it runs there; ``pages`` is OpenAI's
cursor paging over items. The routes are ``server/routes/responses.py`` and
``server/routes/conversations.py``. Every row belongs to one project: each query is keyed
by the caller's project, so another project's id is simply not found.
"""
