"""Key-value stores with expiry behind one interface (``ttl.TtlStore``): in-process,
SQLite (several workers on one host), Redis (every replica); ``choose`` picks one."""
