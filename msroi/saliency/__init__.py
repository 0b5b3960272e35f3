"""Saliency maps: the networks, class activation maps, priors and user map files."""
