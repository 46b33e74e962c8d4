"""Publish the master: exports for analysts (sync feeds come later)."""

from mdm.publish.export import ExportFormat, export_master

__all__ = ["ExportFormat", "export_master"]
