"""The data plane: auth, routing, relay, streaming, metering and settlement."""
