"""The aiohttp server: the HTTP face of the gateway (routes, middlewares, streaming)."""
