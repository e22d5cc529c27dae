"""The linter: a registry of small rules, each with a code, a name, a severity and a doc."""
