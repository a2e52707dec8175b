"""The Anthropic Messages API adapter: transport, translation, stream translator."""
