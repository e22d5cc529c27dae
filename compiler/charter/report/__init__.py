"""Reports: a self-contained HTML report, Markdown for CI comments, and run-to-run comparison."""
