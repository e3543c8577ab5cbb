"""The outbox: every email is a row written with the change that caused it."""
