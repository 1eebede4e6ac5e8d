"""readerd: reads your saved links for you."""

__version__ = "0.1.0"
