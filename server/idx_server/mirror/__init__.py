"""Mirror indexes: the only place that talks HTTP to an upstream index."""
