"""The one-page study report: tables and figures from every stage, self-contained HTML."""

from vero.report.build import ReportInputs, build_report

__all__ = ["ReportInputs", "build_report"]
