"""Compile targets: system prompts, the monitor prompt, eval cases, training data, and `charter build`."""
