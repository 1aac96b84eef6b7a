"""Vosk driven directly, as its own examples do (`python -m bench.vosk_direct MODEL WAV...`):
the baseline of the transcription benchmark. Prints one JSON line: words and decode time."""

from __future__ import annotations

import json
import sys
import time
import wave


def main() -> None:
    import vosk

    vosk.SetLogLevel(-1)
    model_path, *files = sys.argv[1:]
    model = vosk.Model(model_path)
    decode, words = 0.0, 0
    for path in files:
        start = time.perf_counter()
        with wave.open(path, "rb") as audio:
            recognizer = vosk.KaldiRecognizer(model, audio.getframerate())
            recognizer.SetWords(True)
            while data := audio.readframes(4000):
                if recognizer.AcceptWaveform(data):
                    words += len(json.loads(recognizer.Result()).get("result", []))
            words += len(json.loads(recognizer.FinalResult()).get("result", []))
        decode += time.perf_counter() - start
    print(json.dumps({"files": len(files), "words": words, "decode_seconds": decode}))


if __name__ == "__main__":
    main()
