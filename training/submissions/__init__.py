"""One-time submission keys: a form sent twice (double click, retry, Back button) acts once."""
