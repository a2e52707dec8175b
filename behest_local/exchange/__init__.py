"""The exchange: one request's core object, its phases as typed events, and their bus.

Every request is one ``Exchange`` (``exchange.py``) moving through named phases; each phase is
a typed event (``events.py``) published on the ``TraceStore`` bus (``bus.py``), whose
subscribers are the headless logger, the TUI, the trace writer and the usage recorder. The
``Capture`` (``capture.py``) holds the redacted detail (``scrub.py``), ``timing.py`` the
stream timeline. The bottom layer of the request's journey: it imports no other package.
"""
