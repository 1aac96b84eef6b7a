"""Page text rendered on the server, in the reader's language, from the pages' own message
catalogues (web/catalogues.py): the first paint of a page reads the same words the page's
scripts would put there, so the login and error pages are whole without them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from web.catalogues import catalogue, language

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def translate(lang: str | None, key: str, args: Mapping[str, Any] | None = None) -> str:
    """The message for `key`, as i18n.js t() gives it: the language's own, else the Chinese,
    else the key's last part; an argument may itself be a message ({"$t": key, "args": …}) or
    a configured name in each language ({"$names": {lang: name}})."""
    chosen = language(lang)
    template = catalogue(chosen).get(key) or catalogue("zh-CN").get(key)
    if template is None:
        return key.rsplit(".", 1)[-1]
    values = args or {}

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return ""
        if isinstance(value, Mapping) and "$t" in value:
            return translate(chosen, str(value["$t"]), value.get("args"))
        if isinstance(value, Mapping) and "$names" in value:  # a configured name, per language
            names = value["$names"]
            return str(names.get(chosen) or names.get("zh-CN") or "")
        return str(value)

    return _PLACEHOLDER.sub(fill, template)
