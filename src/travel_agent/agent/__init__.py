"""The travel assistant that answers without a model: trip-fact extraction and deterministic replies."""
