"""Reports: a self-contained HTML report, Markdown for CI comments, and run-to-run comparison."""

from __future__ import annotations

from pathlib import Path

HTML_REPORT = "report.html"
MARKDOWN_REPORT = "report.md"


def write_reports(run_dir: str | Path, *, html: bool = True, markdown: bool = True) -> list[Path]:
    """Write RUN_DIR/report.html and RUN_DIR/report.md (atomically) from the run's files; returns
    the paths written. Raises charter.report.runs.RunDirError for a directory it cannot read."""
    from ..io import write_text_atomic
    from .html import render_html
    from .markdown import render_markdown
    from .runs import load_run

    run = load_run(run_dir)
    written = []
    if html:
        write_text_atomic(run.path / HTML_REPORT, render_html(run))
        written.append(run.path / HTML_REPORT)
    if markdown:
        write_text_atomic(run.path / MARKDOWN_REPORT, render_markdown(run))
        written.append(run.path / MARKDOWN_REPORT)
    return written
