"""Training a classifier for maps: datasets, the synthetic set and the training loop."""
