"""The domain model: pure values and rules, no I/O, nothing else of ours imported."""
