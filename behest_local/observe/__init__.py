"""What the gateway shows and keeps of finished exchanges: logs, records, traces, exports.

``record`` turns an exchange and its capture into a redacted record, the one shape that
leaves memory; ``trace_db`` and its writer thread (``trace_writer``) keep records in
SQLite; ``export`` writes HAR, JSONL and curl; ``fixtures`` saves and replays streams;
``headless`` prints one line per exchange; ``assemble`` folds events into one message.
Above ``exchange/`` only: observing never reaches into policy, providers or the server.
"""
