"""The pipeline's Lambda stages: one module per ASL state, each a pure function and a handler."""
