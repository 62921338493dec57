"""The Chalice app's logic and adapters: the HTTP API, ingestion and the execution starter."""
