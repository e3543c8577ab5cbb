"""Resources for organizations: quick start guide, FAQ and sample permission wording."""
