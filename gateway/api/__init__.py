"""The operator REST API (FastAPI): thin handlers over OrderService."""
