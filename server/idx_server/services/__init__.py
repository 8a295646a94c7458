"""Use cases. Views call these; these call the model, storage and the mirror."""
