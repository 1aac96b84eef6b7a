"""Who may use which route: the one explicit table the authorisation matrix test
(tests/test_authz_matrix.py) checks every route of the app against, and the API fuzzer
(tests/fuzz_api.py) picks its logged-in clients from. A route missing here fails the matrix.

Each entry names the roles the route admits: `PUBLIC` (anyone, not logged in too) or
`ANY_ROLE` (any logged-in user) or a set of roles. Pages (HTML) admit the same way, but
answer a refused user with a redirect (to /login, or to the user's own home page) instead of
401/403; the websocket closes with 4401 for nobody logged in.
"""

from __future__ import annotations

from crm.users.models import Role

A, S, Q, AD, D = Role.AGENT, Role.SUPERVISOR, Role.QA, Role.ADMIN, Role.DEPARTMENT
ANY_ROLE = frozenset(Role)
PUBLIC = frozenset({*Role, "anonymous"})

READ_CUSTOMERS = frozenset({A, S, Q, AD})
EDIT_CUSTOMERS = frozenset({A, S, AD})
TICKET_READERS = frozenset({A, S, D, AD})
TICKET_WORKERS = frozenset({A, S, D})
RECEIVERS = frozenset({A, S})
SUPERVISORS = frozenset({S, AD})
REPORT_READERS = frozenset({S, AD, Q})
LISTENERS = frozenset({Q, S, A, D})  # agents their own calls, departments under a grant

# (method, path as the app declares it) → who may.
ROUTES: dict[tuple[str, str], frozenset[object]] = {
    # Public by design: health for load balancers, metrics for Prometheus, the API's own
    # description, logging in, the login page and the static assets the pages load.
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/tokens"): PUBLIC,
    ("POST", "/api/auth/logout"): ANY_ROLE,
    ("GET", "/api/auth/me"): ANY_ROLE,
    ("GET", "/api/users"): frozenset({AD}),
    ("POST", "/api/users"): frozenset({AD}),
    ("PATCH", "/api/users/{user_id}"): frozenset({AD}),
    # Spreadsheet import (web/imports.py): administrators only.
    ("POST", "/api/imports"): frozenset({AD}),
    ("GET", "/api/imports/{job_id}"): frozenset({AD}),
    ("GET", "/api/imports/{job_id}/rows"): frozenset({AD}),
    ("POST", "/api/imports/{job_id}/commit"): frozenset({AD}),
    ("GET", "/api/customers"): READ_CUSTOMERS,
    ("POST", "/api/customers"): EDIT_CUSTOMERS,
    ("GET", "/api/customers/{customer_id}"): READ_CUSTOMERS,
    ("PATCH", "/api/customers/{customer_id}"): EDIT_CUSTOMERS,
    ("POST", "/api/customers/{customer_id}/notes"): EDIT_CUSTOMERS,
    ("GET", "/api/customers/{customer_id}/export"): frozenset({AD}),
    ("POST", "/api/customers/{customer_id}/erase"): frozenset({AD}),
    ("GET", "/api/projects/{project_id}/callbacks"): READ_CUSTOMERS,
    ("POST", "/api/callbacks/{task_id}/attempts"): RECEIVERS,
    ("POST", "/api/calls/dial"): frozenset({A}),
    ("GET", "/api/calls/mine"): frozenset({A}),
    ("GET", "/api/calls/live"): frozenset({A}),
    # The console's call controls: an agent on their own call, a supervisor on any (audited).
    ("GET", "/api/calls/live/{linkedid}/controls"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/hangup"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/hold"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/resume"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/mute"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/unmute"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/transfer"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/transfer/complete"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/transfer/cancel"): RECEIVERS,
    ("POST", "/api/calls/live/{linkedid}/conference"): RECEIVERS,
    ("GET", "/api/calls/{call_id}/recording"): LISTENERS,
    ("GET", "/api/qa/calls"): frozenset({Q, S, A}),
    ("GET", "/api/qa/calls/{call_id}"): frozenset({Q, S, A}),
    ("POST", "/api/qa/calls/{call_id}/reviews"): frozenset({Q, S}),
    ("GET", "/api/qa/sampling"): frozenset({Q, S}),
    ("GET", "/api/qa/queue"): frozenset({Q, S}),
    ("POST", "/api/qa/queue/{assignment_id}/take"): frozenset({Q, S}),
    ("POST", "/api/qa/queue/sample"): frozenset({Q, S}),
    ("GET", "/api/qa/feedback"): frozenset({Q, S, A}),
    ("GET", "/api/qa/calls/{call_id}/feedback"): frozenset({Q, S, A}),
    ("POST", "/api/qa/calls/{call_id}/feedback"): frozenset({Q, S}),
    ("POST", "/api/qa/feedback/{feedback_id}/acknowledge"): frozenset({A}),
    ("POST", "/api/qa/feedback/{feedback_id}/dispute"): frozenset({A}),
    ("POST", "/api/qa/feedback/{feedback_id}/answer"): frozenset({Q, S}),
    ("GET", "/api/agent/state"): frozenset({A}),
    ("PUT", "/api/agent/state"): frozenset({A}),
    ("GET", "/api/agent/worklist"): frozenset({A}),
    ("GET", "/api/agent/today"): frozenset({A}),
    ("GET", "/api/dispositions/codes"): READ_CUSTOMERS,
    ("GET", "/api/dispositions/owed"): frozenset({A}),
    ("GET", "/api/calls/{call_id}/disposition"): READ_CUSTOMERS,
    ("PUT", "/api/calls/{call_id}/disposition"): RECEIVERS,
    ("GET", "/api/agents"): SUPERVISORS,
    ("GET", "/api/campaigns"): SUPERVISORS,
    ("POST", "/api/campaigns"): SUPERVISORS,
    ("GET", "/api/campaigns/{campaign_id}"): SUPERVISORS,
    ("PATCH", "/api/campaigns/{campaign_id}"): SUPERVISORS,
    ("POST", "/api/campaigns/{campaign_id}/start"): SUPERVISORS,
    ("POST", "/api/campaigns/{campaign_id}/pause"): SUPERVISORS,
    ("POST", "/api/campaigns/{campaign_id}/stop"): SUPERVISORS,
    ("GET", "/api/campaigns/{campaign_id}/attempts"): SUPERVISORS,
    ("GET", "/api/campaigns/{campaign_id}/attempts.xlsx"): SUPERVISORS,
    ("GET", "/api/complaints/options"): TICKET_READERS,
    ("GET", "/api/complaints"): TICKET_READERS,
    ("POST", "/api/complaints"): RECEIVERS,
    ("GET", "/api/complaints/{complaint_id}"): TICKET_READERS,
    ("POST", "/api/complaints/{complaint_id}/steps/{step}"): TICKET_WORKERS,
    ("POST", "/api/complaints/{complaint_id}/call-back"): RECEIVERS,
    ("POST", "/api/complaints/{complaint_id}/escalate"): RECEIVERS,
    ("POST", "/api/complaints/{complaint_id}/compensation"): TICKET_WORKERS,
    ("POST", "/api/complaints/{complaint_id}/compensation/approve"): frozenset({S}),
    ("GET", "/api/repairs"): TICKET_READERS,
    ("POST", "/api/repairs"): RECEIVERS,
    ("GET", "/api/repairs/crews"): TICKET_READERS,
    ("GET", "/api/repairs/{repair_id}"): TICKET_READERS,
    ("POST", "/api/repairs/{repair_id}/arrived"): TICKET_WORKERS,
    ("POST", "/api/repairs/{repair_id}/completed"): TICKET_WORKERS,
    ("POST", "/api/repairs/{repair_id}/call-during"): RECEIVERS,
    ("POST", "/api/repairs/{repair_id}/call-after"): RECEIVERS,
    ("POST", "/api/access-requests"): frozenset({D}),
    ("GET", "/api/access-requests"): frozenset({D, S, AD}),
    ("POST", "/api/access-requests/{grant_id}/approve"): frozenset({S}),
    ("POST", "/api/access-requests/{grant_id}/reject"): frozenset({S}),
    ("POST", "/api/access-requests/{grant_id}/revoke"): frozenset({S}),
    ("GET", "/api/granted/projects/{project_id}/callbacks"): frozenset({D}),
    ("GET", "/api/wallboard"): SUPERVISORS,
    ("POST", "/api/supervision/agents/{agent_id}/spy"): SUPERVISORS,
    ("POST", "/api/supervision/agents/{agent_id}/pause"): SUPERVISORS,
    ("POST", "/api/supervision/agents/{agent_id}/unpause"): SUPERVISORS,
    ("POST", "/api/supervision/agents/{agent_id}/logout"): SUPERVISORS,
    ("GET", "/api/reports/{kind}.xlsx"): REPORT_READERS,
    ("GET", "/api/reports/{kind}.pdf"): REPORT_READERS,
    ("GET", "/api/reports/{kind}"): REPORT_READERS,
    # The websocket: every logged-in user has a live channel.
    ("WEBSOCKET", "/ws"): ANY_ROLE,
    # Pages.
    ("GET", "/"): PUBLIC,  # sends each user to their home page, or to /login
    ("GET", "/login"): PUBLIC,
    ("GET", "/console"): frozenset({A, S, Q, AD}),
    ("GET", "/admin"): frozenset({AD}),
    ("GET", "/qa"): frozenset({Q, S, A}),
    ("GET", "/campaigns"): SUPERVISORS,
    ("GET", "/wallboard"): SUPERVISORS,
    ("GET", "/reports"): REPORT_READERS,
    ("GET", "/complaints"): TICKET_READERS,
}


def allowed(method: str, path: str) -> frozenset[object]:
    """Who may use the route; KeyError for a route the table does not know."""
    return ROUTES[(method.upper(), path)]
