from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """Analytics, tax reports, the trade journal, history exports and the PDF report: reads of every
    app below it (style guide §3.15), and the journal's own rows."""

    name = "reporting"
