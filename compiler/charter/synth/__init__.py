"""Synthesis at scale: teacher-model training data and eval generation, synchronous or on the providers' batch APIs."""
