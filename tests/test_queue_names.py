"""Queues' display names (issue 18): the pages never show a queue's PBX code (`service`); each
queue reads as configured (CALLCENTRE_QUEUE_NAMES) or, for the inbound and callback queues,
in the catalogues' words, in both languages; a name given in one language only is refused at
start-up, naming the variable."""

from __future__ import annotations

import json

import pytest

from crm.settings import ConfigurationError, load_settings
from web.catalogues import catalogue
from web.page_text import translate
from web.queue_names import queue_names


def test_the_inbound_and_callback_queues_have_names_without_configuration() -> None:
    settings = load_settings(queue="hotline400", callback_queue="outbound")
    names = queue_names(settings)
    assert names == {
        "hotline400": {"zh-CN": catalogue("zh-CN")["queue.inbound"], "en": "Service hotline"},
        "outbound": {"zh-CN": catalogue("zh-CN")["queue.callbacks"], "en": "Callback queue"},
    }


def test_configured_names_win_and_add_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    configured = {
        "service": {"zh-CN": " 装修热线 ", "en": "Renovation line"},
        "sales": {"zh-CN": "销售热线", "en": "Sales line"},
    }
    monkeypatch.setenv("CALLCENTRE_QUEUE_NAMES", json.dumps(configured, ensure_ascii=False))
    names = queue_names(load_settings())
    assert names["service"] == {"zh-CN": "装修热线", "en": "Renovation line"}
    assert names["sales"]["en"] == "Sales line"
    assert names["callbacks"]["zh-CN"] == catalogue("zh-CN")["queue.callbacks"]
    # As a message parameter, the reader's language picks the name (as i18n.js does).
    param = {"$names": names["sales"]}
    assert translate("en", "queue.name", {"name": param}) == "Sales line"
    assert translate("zh-CN", "call.queue", {"q": param}) == "销售热线"


@pytest.mark.parametrize(
    "value",
    [
        '{"sales": {"zh-CN": "销售热线"}}',
        '{"sales": {"zh-CN": "销售热线", "en": "  "}}',
        '{"sales": {"zh-CN": "销售热线", "en": "Sales", "fr": "Ventes"}}',
        '{"": {"zh-CN": "销售热线", "en": "Sales"}}',
        '{"sales": "销售热线"}',
    ],
)
def test_a_name_missing_a_language_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CALLCENTRE_QUEUE_NAMES", value)
    with pytest.raises(ConfigurationError, match="CALLCENTRE_QUEUE_NAMES"):
        load_settings()
