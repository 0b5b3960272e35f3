"""JPEG coding: colour conversion and DCT, trellis quantisation, rate control, and the methods."""
