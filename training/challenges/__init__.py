"""The ACCME and CMA challenges: who entered learners for enough activities, and the drawing."""
