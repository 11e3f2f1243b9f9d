"""One module per upstream provider: pure request building and response translation."""
