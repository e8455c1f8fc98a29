"""Self-contained HTML reports: tables and matplotlib figures in one file a merchandiser can share."""

from bundlewise.report.html import HtmlReport

__all__ = ["HtmlReport"]
