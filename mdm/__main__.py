"""``python -m mdm`` runs the ``mdm`` command."""

from mdm.cli import main

main()
