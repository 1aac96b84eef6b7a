"""Retention (PIPL): what of a call is deleted when, and the deletions applied and audited."""
