"""Recordings after transcription: the job that stores each call's audio compressed, and what
it stored (format and sizes)."""
