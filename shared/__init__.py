"""Code shared by the API, the starter and every stage: models, datasets, AWS helpers, settings."""
