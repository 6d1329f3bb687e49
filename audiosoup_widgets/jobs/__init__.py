"""Dataset-wide work over the store and the pure code: ingest, feature computation, frames and exports."""
