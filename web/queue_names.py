"""The queues as people call them, in each language: the configured names
(CALLCENTRE_QUEUE_NAMES), else the catalogues' words for the inbound and the callback queue.
Pages get them in their boot block; a queue's own name is the PBX's code, never shown."""

from __future__ import annotations

from crm.settings import Settings
from web.catalogues import LANGUAGES, catalogue


def _in_each_language(key: str) -> dict[str, str]:
    return {lang: catalogue(lang)[key] for lang in LANGUAGES}


def queue_names(settings: Settings) -> dict[str, dict[str, str]]:
    """Queue → {language: name}, for every queue the settings know."""
    names = {
        settings.queue: _in_each_language("queue.inbound"),
        settings.callback_queue: _in_each_language("queue.callbacks"),
    }
    names.update({queue: dict(by_lang) for queue, by_lang in settings.queue_names.items()})
    return names
