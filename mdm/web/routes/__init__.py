"""The app's routes, one module per area; each has a ``router``."""
