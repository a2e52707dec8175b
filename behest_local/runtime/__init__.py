"""The composition root: build the gateway from its parts, bind it, run it, stop it.

``serve`` assembles the shared state (settings, key stores, vault, providers, the exchange bus)
and binds the aiohttp app on loopback; ``tui`` runs the Textual front end on the same loop;
``gc_schedule`` keeps full garbage collections for quiet moments. Only ``cli`` sits above.
"""
