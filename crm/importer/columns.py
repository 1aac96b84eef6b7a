"""The spreadsheet's columns: the headers each field is known by, and header → field matching.

The column table users read (what each column means and how to write it) is the package
docstring, in `crm/importer/__init__.py`; keep the two in step.
"""

from __future__ import annotations

import re
import unicodedata

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "客户姓名",
        "姓名",
        "业主",
        "业主姓名",
        "客户名称",
        "客户",
        "name",
        "customer",
        "customer_name",
    ),
    "phone": (
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "联系电话",
        "电话号码",
        "联系方式",
        "座机",
        "备用电话",
        "phone",
        "phones",
        "mobile",
        "tel",
        "telephone",
    ),
    "address": ("地址", "客户地址", "联系地址", "address"),
    "grade": ("客户等级", "等级", "级别", "grade"),
    "notes": ("备注", "notes", "note", "remarks"),
    "do_not_call": ("免打扰", "勿扰", "拒绝回访", "do_not_call", "dnc"),
    "do_not_call_reason": ("免打扰原因", "do_not_call_reason"),
    "contract_number": ("合同号", "合同编号", "contract_number", "contract", "contract_no"),
    "project_address": ("工程地址", "施工地址", "工地地址", "project_address"),
    "designer": ("设计师", "designer"),
    "project_manager": ("项目经理", "project_manager"),
    "foreman": ("工长", "foreman"),
    "crew": ("施工队", "施工班组", "班组", "crew"),
    "contract_date": ("签约日期", "合同日期", "contract_date"),
    "start_date": ("开工日期", "start_date"),
    "concealed_works_date": (
        "隐蔽工程日期",
        "隐蔽工程验收日期",
        "水电验收日期",
        "concealed_works_date",
    ),
    "midterm_date": ("中期日期", "中期验收日期", "midterm_date"),
    "completion_date": ("完工日期", "竣工日期", "completion_date"),
    "status": ("状态", "工程状态", "status"),
}

# The project's text columns besides its address; its date columns are named as the project
# service names them (`crm.projects.service.DATE_FIELDS`).
PROJECT_TEXT = ("designer", "project_manager", "foreman", "crew")


def _header_key(text: str) -> str:
    """What a header is matched on: NFKC, no spaces/underscores/dashes/stars/colons, any case."""
    return re.sub(r"[\s_\-*:]+", "", unicodedata.normalize("NFKC", text)).casefold()


_FIELD_BY_HEADER = {_header_key(a): f for f, aliases in COLUMN_ALIASES.items() for a in aliases}


def field_for_header(header: str) -> str | None:
    """The field a header names; phone headers may carry a number (电话1, 电话2, phone2)."""
    key = _header_key(header)
    if not key:
        return None
    found = _FIELD_BY_HEADER.get(key)
    if found is None and _FIELD_BY_HEADER.get(key.rstrip("0123456789")) == "phone":
        found = "phone"
    return found
