"""Behest session threads: the conversation history kept per (project, user, thread id).

``store`` owns ``data/threads.sqlite3``; ``turn`` prepends a thread's history to a chat
request and records the reply; ``messages`` normalises what is stored. The chat route uses
them when a request carries ``X-Thread-Id``.
"""
