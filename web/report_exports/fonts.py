"""The CJK font PDF reports embed: CALLCENTRE_REPORT_FONT, else the first usable one found in
the usual places. Without one, a clear error — never a PDF of empty boxes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from crm.errors import DomainError

SETTING = "CALLCENTRE_REPORT_FONT"
PACKAGE = "fonts-wqy-microhei"
# TrueType-outlined fonts with Chinese (reportlab cannot embed PostScript/CFF outlines, so
# the OpenType Noto Sans CJK files only work in their TrueType builds).
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansSC-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansCJKsc-Regular.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
)
PROBE = "周回访情况分析表"


class FontUnavailable(DomainError):
    status = 503


@dataclass(frozen=True, slots=True)
class ReportFont:
    name: str  # as registered with reportlab
    path: Path


def _load(path: Path) -> TTFont:
    """The font, or TTFError/OSError; it must draw the Chinese of the reports."""
    font = TTFont("CallcentreCJK", str(path), subfontIndex=0)
    missing = [ch for ch in PROBE if ord(ch) not in font.face.charToGlyph]
    if missing:
        raise TTFError(f"it has no Chinese characters (no glyph for {''.join(missing)!r})")
    return font


@lru_cache(maxsize=4)
def report_font(configured: Path | None) -> ReportFont:
    """Register and return the font; FontUnavailable names the setting and the package."""
    if configured is not None:
        try:
            font = _load(configured)
        except (TTFError, OSError) as exc:
            raise FontUnavailable(
                f"{SETTING}={configured} cannot be used for PDF reports: {exc}. Give a "
                f"TrueType font (.ttf/.ttc) with Chinese characters, e.g. from the Debian "
                f"package {PACKAGE}",
                code="report_font_missing",
            ) from None
        pdfmetrics.registerFont(font)
        return ReportFont(font.fontName, configured)
    for candidate in map(Path, CANDIDATES):
        if not candidate.is_file():
            continue
        try:
            font = _load(candidate)
        except (TTFError, OSError):
            continue
        pdfmetrics.registerFont(font)
        return ReportFont(font.fontName, candidate)
    raise FontUnavailable(
        f"no Chinese font found for PDF reports: install the Debian package {PACKAGE} "
        f"(apt-get install {PACKAGE}) or set {SETTING} to a TrueType font (.ttf/.ttc) with "
        "Chinese characters",
        code="report_font_missing",
    )
