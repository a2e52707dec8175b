"""Guardrails: the PII shield, the content policy and prompt-injection heuristics.

Pure text analysis, below the server and the providers (a layer of its own between
``config`` and ``observe | dialects``): ``entities`` declares the names and modes the
configuration accepts, ``recognizers`` finds PII in text, ``content`` checks block lists,
patterns and injection cues, ``shield`` applies a project's policy to a chat request's
messages and ``restore`` puts masked values back into a reply, whole or streamed. Nothing
here knows about HTTP: ``server/guard.py`` runs it for every chat-shaped inference call,
``server/guard_inputs.py`` for embeddings, image prompts and speech input.
"""
