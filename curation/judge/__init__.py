"""LLM-judge scores 1-5 for rows: a rubric in the config, a local GGUF or an OpenAI-compatible endpoint.

``rubric`` builds the judge's messages and reads its reply; ``client`` talks to the model (the offline
SmolLM2 GGUF through cyllama, or any OpenAI-compatible ``/v1/chat/completions`` URL: vLLM, llama.cpp server,
Ollama), with bounded concurrency and retries; ``cache`` keeps every score by row id and judge config;
``scoring`` runs a batch of rows through all three.
"""
