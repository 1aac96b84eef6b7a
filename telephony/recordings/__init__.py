"""Call recordings on this machine: which file a path reported by the PBX names (`paths`),
fetching it from a PBX on another machine (`fetch`), and the one resolver every reader uses
(`files.RecordingFiles`)."""
