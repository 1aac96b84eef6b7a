"""Transcripts of recorded calls and the persisted jobs that produce them."""
