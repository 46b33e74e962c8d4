"""Publish the master: exports for analysts (`mdm export`) and sync feeds back to each source
(`mdm publish`, `mdm.publish.feeds`)."""

from mdm.publish.export import ExportFormat, export_master, export_store, spreadsheet_safe

__all__ = ["ExportFormat", "export_master", "export_store", "spreadsheet_safe"]
