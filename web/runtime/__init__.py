"""How one `callcentre serve` process runs: its roles (`--role bridge|web|worker|dialer`),
each started by its own function on one AsyncExitStack (`process.py`), and how several such
processes reach each other through Redis.

Without Redis one process does everything with one in-process bus. With Redis
(CALLCENTRE_REDIS_URL): the bridge's events go on the events stream (`event_stream.py`) and
every web process hands them to its own subscribers; what a web process asks of the PBX goes
through the bridge (`telephony/pbx_requests.py`); transcription jobs are announced on the
jobs stream and taken by the workers (`telephony/speech/job_stream.py`); each dialer keeps
its state on the dialer board (`telephony/dialer_board.py`).
"""
