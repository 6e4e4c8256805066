"""Runtime semantics of the node types that are not on the seed hot path (plain Python)."""
