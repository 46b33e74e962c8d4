"""The stewards' workbench and the REST API: one FastAPI app (``mdm serve``).

Pages are rendered on the server (Jinja2) with a little hand-written JavaScript; every
script and style is served by mdm itself. Pages and API routes read through ``mdm.views`` and
act through ``mdm.stewardship``: the business logic lives there, as it does for the CLI.
"""

from mdm.web.app import create_app

__all__ = ["create_app"]
