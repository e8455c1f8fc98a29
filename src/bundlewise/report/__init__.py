"""Self-contained HTML reports: tables and matplotlib figures in one file a merchandiser can share."""

from bundlewise.report.html import HtmlReport, pyplot

__all__ = ["HtmlReport", "pyplot"]
