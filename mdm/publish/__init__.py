"""Publish the master: exports for analysts (sync feeds come later)."""

from mdm.publish.export import ExportFormat, export_master, export_store, spreadsheet_safe

__all__ = ["ExportFormat", "export_master", "export_store", "spreadsheet_safe"]
