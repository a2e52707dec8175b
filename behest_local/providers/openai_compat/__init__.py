"""The pass-through adapter for OpenAI-compatible upstreams (OpenAI, Mistral, OpenRouter,
Ollama, llama.cpp, vLLM, LM Studio), with per-provider quirk profiles in ``transport``."""
