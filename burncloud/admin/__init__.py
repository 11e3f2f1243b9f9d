"""The control-plane REST API under /api/ (admin keys only), built on the same services."""
