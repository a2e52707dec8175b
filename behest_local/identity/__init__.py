"""Who is calling: project API keys, the dashboard token, Behest v1.5 JWTs and their keys.

``api_keys`` (hashed ``behest_sk_live_`` keys in ``keys.json``), ``dashboard_token`` (the
management API's bearer token), ``jwt/`` (mint and verify RS256 tokens), ``signing_keys``
(tenant key pairs published as JWKS) and ``jwk`` (RSA key material). The server's
``admission/auth.py`` turns a credential into a principal with these.
"""
