"""Drafts: what a person entered on a form, kept so its preview is a page of its own."""
