"""The staff side of sessions: scheduling, rosters, exports and the staff calendar feed."""
