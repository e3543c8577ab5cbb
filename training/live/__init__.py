"""Live guided upload: the facilitator drives the walkthrough, every organization follows."""
