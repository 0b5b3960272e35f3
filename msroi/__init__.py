"""msroi: semantic perceptual JPEG compression driven by multi-structure region-of-interest maps."""

import os

# TensorFlow (imported lazily by the model and map modules) prints start-up chatter that is not
# for users; a user who wants it can set the variable themselves.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
