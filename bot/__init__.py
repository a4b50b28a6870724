"""licensebot composition root: settings, logging, audit trail, app factory, CLI, servers."""

__version__ = "0.1.0"
