"""``behest-local probe``: is a stream being buffered between the gateway and the browser?

``measure`` sends one streaming request and timestamps each event as it arrives; ``verdict``
compares that with when the gateway sent each event and says what is buffering. The command
itself is ``cli/probe_cmd.py``.
"""
