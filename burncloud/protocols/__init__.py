"""Wire formats burncloud speaks: framing and typed shapes, no I/O."""
