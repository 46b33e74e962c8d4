"""The store: SQLModel tables, migrations, the writer lock, and bulk reads and writes.

One module per concern: ``bulk`` (frames <-> rows, reads by key lists, bulk writes), ``runs``,
``records`` (source records), ``record_index`` (record keys and key counts), ``golden`` (golden
records and their history), ``stewardship`` (decisions, pins, reviews, audit), ``marks`` (the
resolution watermark); ``database`` opens a store, ``migrate`` brings its schema up to date.
"""

from mdm.store.database import Store, open_store

__all__ = ["Store", "open_store"]
