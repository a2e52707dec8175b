"""Files and uploads of OpenAI's Files API, kept per project under the state dir.

``db`` is the one-writer-thread SQLite helper the file and batch stores share; ``blobs``
streams a file's bytes to disk and back off the event loop; ``objects`` makes the wire
objects (``file``, ``upload``, ``upload.part``) and holds the API's fixed facts (purposes,
limits); ``store`` owns ``data/files.sqlite3`` and ``data/files/`` (every row belongs to
one project). The HTTP side is ``server/routes/files.py``; the batches
(``behest_local.batches``) read their input and write their results through ``store``.
"""
