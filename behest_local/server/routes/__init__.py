"""Route handlers, one module per API surface.

``openai`` (chat, embeddings, models), ``moderations`` (relayed to OpenAI or emulated),
``translated`` (completions and responses, served through chat), ``messages``
(Anthropic's Messages API, translated through chat or, in ``messages_native``, relayed to
Anthropic as sent), ``behest`` (mint, JWKS, threads), ``management`` (the dashboard API),
``usage`` (usage and billing reports) and ``inspect`` (the probe's timeline). Handlers
validate with ``dialects/``, pick a provider with ``policy/routing.py`` and relay through
``server/streaming.py``.

``audio`` (speech, transcriptions and translations) answers with the emulated voice and
ear of ``providers/emulated/`` (``speech``, ``speech_encode``, ``transcribe``).
"""
