"""OpenAI's Batch API, offline: batches per project, run a line at a time, resumable.

``batch`` is a batch's state and wire object; ``lines`` checks the input's JSONL lines and
writes the output and error lines; ``store`` keeps batches in ``data/batches.sqlite3``;
``runner`` works through them, one task while there is work. A layer above
``behest_local.files`` (its input and results are Files) and below the server, whose
``routes/batches.py`` serves the API and sends each line through the gateway itself.
"""
