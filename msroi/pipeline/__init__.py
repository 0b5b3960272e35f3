"""The workflow's stages as functions over paths, one module per rules file."""
