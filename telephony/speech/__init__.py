"""Speech: recordings to word-timed transcripts with Vosk, in a pool of worker processes."""
