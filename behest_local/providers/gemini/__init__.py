"""The Gemini API (generativelanguage) adapter: transport, translation, stream translator."""
