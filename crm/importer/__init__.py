"""Import customers, phones and projects from the spreadsheet a renovation company already keeps.

`callcentre import FILE.xlsx|FILE.csv` runs `import_file`. One row describes one project (or a
customer without a project); rows sharing a phone number are the same customer, and a phone or
contract number already in the database updates that customer or project, so a company can
re-import its monthly export and the moved stage dates move the pending callbacks.

The import is all or nothing: every row is checked first and every bad row is reported
(`ImportRejected.errors`, with the spreadsheet row number, the column as written in the file,
the value and the reason); only a clean file is written, in one transaction, through the
customer and project services, so the callback tasks are planned exactly as for a hand-entered
project.

Reading: `.xlsx` (first worksheet) or `.csv` in UTF-8 (with or without BOM) or GB18030 (what a
Chinese Excel saves). The header row is the first non-empty row. Headers match in Chinese or
English, ignoring case, spaces, `_`/`-` and full-width forms (ＰＨＯＮＥ = phone). Unknown
columns are ignored with a warning; a file without a name or a phone column is rejected.

| column | English header | meaning | format |
|---|---|---|---|
| 客户姓名 | name | the customer's name | text, required (1) |
| 电话 | phone | the customer's numbers | at least one per row (2) |
| 地址 | address | the customer's address | text |
| 客户等级 | grade | A (most important), B or C | `A`, `a`, `A级`, `A类`; blank: B (3) |
| 备注 | notes | notes on the customer | text, appended to existing notes |
| 免打扰 | do_not_call | never call this customer | yes/no (4); blank: no (3) |
| 免打扰原因 | do_not_call_reason | why not to call | text; blank: 导入表格标记为免打扰 |
| 合同编号 | contract_number | the project's key | unique in the file (5) |
| 工程地址 | project_address | where the works are | text; blank: the customer's address |
| 设计师 | designer | designer | text |
| 项目经理 | project_manager | project manager | text |
| 工长 | foreman | foreman | text |
| 施工队 | crew | crew | text, e.g. 第三施工队 |
| 签约日期 | contract_date | contract signed | date (6) |
| 开工日期 | start_date | works start: 开工回访 | date (6) |
| 隐蔽工程验收日期 | concealed_works_date | concealed works: 隐蔽工程回访 | date (6) |
| 中期验收日期 | midterm_date | midterm inspection: 中期回访 | date (6) |
| 竣工日期 | completion_date | completion: 完工回访, then monthly | date (6) |
| 状态 | status | the project's status | (7) |

Other headers accepted for the same columns:
- name: 姓名, 业主, 业主姓名, 客户名称, 客户, customer, customer_name
- phone: 手机, 手机号, 手机号码, 联系电话, 电话号码, 联系方式, 座机, 备用电话, any of them
  numbered (电话1, 电话2), phones, mobile, tel, telephone
- address: 客户地址, 联系地址; grade: 等级, 级别; notes: note, remarks
- do_not_call: 勿扰, 拒绝回访, dnc; contract_number: 合同号, contract, contract_no
- project_address: 施工地址, 工地地址; crew: 施工班组, 班组
- contract_date: 合同日期; concealed_works_date: 隐蔽工程日期, 水电验收日期
- midterm_date: 中期日期; completion_date: 完工日期; status: 工程状态

Notes:
1. Rows sharing a phone number are one customer and must agree on the name; a number already
   in the database attaches the row to that customer (same name required).
2. Several phone columns are allowed, and a cell may hold several numbers separated by `，`,
   `、`, `;`, `/` or spaces. Any written form: `138-0013-8000`, `+86 138 0013 8000`,
   `(029)8888 6666`, `8888 6666` (takes `CALLCENTRE_DEFAULT_AREA_CODE`), `029-88886666转801`.
3. For an existing customer a blank cell keeps what the database holds.
4. 是/否, Y/N, yes/no, true/false, 1/0, ✓ (also √, ×).
5. Blank: a customer without a project. A contract number already in the database updates
   that project, if it belongs to the same customer; blank cells keep the database's values.
6. A date cell, or text `2026-03-01`, `2026/3/1`, `2026.3.1`, `2026年3月1日`, `20260301`.
   Stage dates must follow the order of the works (contract, start, concealed works, midterm,
   completion).
7. 已签约/签约/未开工 (signed), 施工中/在建/在施/进行中 (in_progress),
   已完工/完工/竣工/已竣工 (completed), 已取消/取消 (cancelled), or the English words.
   Blank: from the dates as of today (completed once the completion date has passed, in
   progress once the works started, else signed); an existing cancelled project stays so.
"""

from __future__ import annotations

from crm.importer.columns import COLUMN_ALIASES, field_for_header
from crm.importer.grouping import CustomerEntry
from crm.importer.reading import RawRow, SheetRows, read_rows
from crm.importer.reporting import ImportRejected, ImportReport, RowError
from crm.importer.validation import ProjectEntry, ValidatedImport, validate
from crm.importer.values import parse_bool, parse_date, parse_grade, parse_status
from crm.importer.writing import DEFAULT_DNC_REASON, import_file
from crm.projects.service import derive_status  # a project rule, importable here as before

__all__ = [
    "COLUMN_ALIASES",
    "DEFAULT_DNC_REASON",
    "CustomerEntry",
    "ImportRejected",
    "ImportReport",
    "ProjectEntry",
    "RawRow",
    "RowError",
    "SheetRows",
    "ValidatedImport",
    "derive_status",
    "field_for_header",
    "import_file",
    "parse_bool",
    "parse_date",
    "parse_grade",
    "parse_status",
    "read_rows",
    "validate",
]
