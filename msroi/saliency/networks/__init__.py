"""Network builders, one per architecture (Keras)."""
