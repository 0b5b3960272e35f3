"""Image quality: metrics, ROI handling and rate-distortion evaluation."""
