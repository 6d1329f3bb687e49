"""Ingest: find the audio files of a dataset layout and load them into the store."""

from .discover import LAYOUTS, Candidate, detect_layout, discover
from .load import LoadReport, load_dataset

__all__ = ["LAYOUTS", "Candidate", "detect_layout", "discover", "LoadReport", "load_dataset"]
