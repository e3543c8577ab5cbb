"""Staff accounts, sign-in, roles and the console's home."""
