"""docs/configuration.md is what `callcentre config-reference` writes from the settings model:
every setting described, its default as an operator would type it, and no document naming a
variable the server does not read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field

from crm.settings import Settings, load_settings
from web.config_reference import DOCUMENT, UndescribedSetting, default_text, render, variable

ROOT = Path(__file__).resolve().parents[1]
PROSE = [
    "README.md",
    "ARCHITECTURE.md",
    "SECURITY.md",
    "asterisk-conf/README.md",
    "docs/*.md",
    "deploy/**/*",
]
# Variables of the test suite's Asterisk lab (tests/lab), not of the server.
LAB_PREFIX = "CALLCENTRE_LAB_"


def test_the_document_is_what_the_settings_model_says() -> None:
    written = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    assert written == render(), (
        f"{DOCUMENT} is out of date: run `callcentre config-reference --out {DOCUMENT}`"
    )


def test_every_setting_is_in_the_document() -> None:
    written = (ROOT / DOCUMENT).read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(CALLCENTRE_[A-Z0-9_]+)` \|", written, re.MULTILINE)
    assert listed == [variable(name) for name in Settings.model_fields]


def test_a_setting_without_a_description_is_refused() -> None:
    class Careless(Settings):
        brand_new_knob: int = Field(3)

    with pytest.raises(UndescribedSetting, match="CALLCENTRE_BRAND_NEW_KNOB"):
        render(Careless)


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_a_shown_default_is_read_back_as_the_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typing the documented default into the variable gives the same setting as leaving
    it unset (the defaults written in words, like "the CPU count", excepted)."""
    field = Settings.model_fields[name]
    shown = default_text(field)
    if shown == "unset":
        assert field.get_default(call_default_factory=True, validated_data={}) in (None, [], {})
        return
    if not (shown.startswith("`") and shown.endswith("`")):
        assert " " in shown  # words, e.g. "the CPU count"
        return
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    monkeypatch.setenv(variable(name), shown[1:-1])
    default = field.get_default(call_default_factory=True, validated_data={})
    assert getattr(load_settings(), name) == default


def _prose() -> list[Path]:
    return sorted({path for pattern in PROSE for path in ROOT.glob(pattern) if path.is_file()})


def test_the_documents_name_only_variables_the_server_reads() -> None:
    known = {variable(name) for name in Settings.model_fields}
    unknown = []
    for path in _prose():
        for name in re.findall(r"CALLCENTRE_[A-Z0-9_<>]+", path.read_text("utf-8")):
            if name.startswith(LAB_PREFIX) or name in known:
                continue
            if name.endswith("_") and any(k.startswith(name) for k in known):
                continue  # a family: CALLCENTRE_AMI_*
            family = re.escape(name).replace("<STAGE>", "[A-Z_]+")  # a pattern: …_<STAGE>_DAYS
            if "<STAGE>" in name and any(re.fullmatch(family, k) for k in known):
                continue
            unknown.append(f"{path.relative_to(ROOT)}: {name}")
    assert unknown == []


def test_the_readme_links_the_reference_instead_of_a_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    assert f"({DOCUMENT})" in section
    assert not re.search(r"^\| `CALLCENTRE_", readme, re.MULTILINE), "a second, drifting table"


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    return subprocess.run(
        [sys.executable, "-m", "web.cli", "config-reference", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_command_writes_and_checks_the_document(tmp_path: Path) -> None:
    assert _command().stdout == render()
    out = tmp_path / "configuration.md"
    assert _command("--out", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8") == render()
    current = _command("--check", str(out))
    assert current.returncode == 0, current.stderr
    out.write_text(render().replace("`12`", "`13`"), encoding="utf-8")
    stale = _command("--check", str(out))
    assert stale.returncode == 1 and "config-reference --out" in stale.stderr


def test_the_deployments_example_settings_are_valid(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """deploy/callcentre.env.example as systemd's EnvironmentFile= reads it: every line a
    setting the server reads, with a value it accepts."""
    monkeypatch.chdir(tmp_path)  # no .env
    example = ROOT / "deploy" / "callcentre.env.example"
    names = []
    for line in example.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
            names.append(name)
    settings = load_settings()
    assert set(names) <= {variable(name) for name in Settings.model_fields}
    assert settings.trusted_proxies == ["127.0.0.1"] and settings.log_format == "json"
