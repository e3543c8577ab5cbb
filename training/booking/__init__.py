"""Programs, sessions and the public booking flow."""
