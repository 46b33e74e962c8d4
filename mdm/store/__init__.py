"""The store: SQLModel tables, migrations, and bulk reads and writes."""

from mdm.store.database import Store, open_store

__all__ = ["Store", "open_store"]
