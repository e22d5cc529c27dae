"""Interoperability: importers of existing constitutions, exports to promptfoo and Inspect, semantic diff."""
