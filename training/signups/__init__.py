"""The staff side of signups: search, possible duplicates, exports."""
