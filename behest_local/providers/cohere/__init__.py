"""The Cohere v2 Chat adapter: transport, translation, stream translator."""
