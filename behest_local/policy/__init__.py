"""Pure rules the gateway applies to a request: which provider serves a model, which
origins a project allows, how requests and tokens are counted against limits and tiers.

``routing`` (model → provider and upstream model), ``cors`` (origin matching), ``ratelimit``
(fixed-window counters) and ``tiers`` (which limits apply to whom). No I/O, no aiohttp: the
server's admission phase (``server/admission/``) and the providers call them.
"""
