"""Provider adapters: the upstreams a request can be relayed to."""
