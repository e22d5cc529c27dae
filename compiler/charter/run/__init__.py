"""The eval runner: run compiled eval cases against models, grade every turn, keep results resumable."""
