"""Full-text search over the projects a user may read (SQLite FTS5, kept by event hooks)."""
