"""msroi: semantic perceptual JPEG compression driven by multi-structure region-of-interest maps."""

__version__ = "0.1.0"
