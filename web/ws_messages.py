"""What the websocket (`GET /ws`, web/ws.py) sends, one pydantic model per message type, told
apart by `type`; the producers build these, and the OpenAPI document publishes their schemas
as components (`ServerMessage` names them all).

Every message but `hello` is numbered by the outbox as it is pushed (`seq`, from 1 per user,
web/outbox.py); the page resumes after the last number it saw. The socket's ends are close
codes, not messages (4401 the session ended, 1008 a frame out of place, 1009 too big).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from crm.callbacks.models import Stage
from crm.calls.models import CallOutcome, Direction, HungUpBy
from crm.complaints.alerts import AlertSubject
from crm.customers.cards import CustomerCard, CustomerSummary
from crm.quality.models import FeedbackStatus
from telephony.events import RingStopReason
from web.agent_state_out import AgentStateOut
from web.auth import UserOut
from web.moments import IsoMoment
from web.wallboard import WallboardAlert, WallboardOut


class Pushed(BaseModel):
    """A message the outbox numbers: built with `seq` 0, sent with the user's next number."""

    # `type` and `seq` have defaults for the producers' sake, yet every message carries them:
    # the published (serialization) schema says so.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    seq: int = Field(
        default=0, ge=0, description="this user's message number, from 1 (the outbox's)"
    )


class PopCall(BaseModel):
    """The ringing call, as the PBX told of it."""

    linkedid: str
    caller: str | None
    queue: str | None
    direction: Direction
    attempt_id: int | None  # a callback attempt the call was dialed for
    at: IsoMoment


class PopCard(BaseModel):
    """What the screen pop says about the caller: built once per call (web/pops.py)."""

    customer: CustomerCard | None  # the caller's card, when one customer has the number
    candidates: list[CustomerSummary]  # several customers share the number: pick one
    unknown_number: str | None  # nobody has it: the number, to create the customer with
    task_id: int | None  # a callback's task, when the call was dialed for one
    card_unavailable: bool = False  # the database was away: the call, without the card


class PopMessage(Pushed, PopCard):
    """An agent's phone rings: the call and the caller's card."""

    type: Literal["pop"] = "pop"
    call: PopCall


class AnsweredMessage(Pushed):
    """The agent answered the call the pop was for."""

    type: Literal["answered"] = "answered"
    linkedid: str
    at: IsoMoment


class RingStoppedMessage(Pushed):
    """The agent's phone stopped ringing without the agent answering."""

    type: Literal["ring_stopped"] = "ring_stopped"
    linkedid: str
    reason: RingStopReason
    at: IsoMoment


class EndedMessage(Pushed):
    """A call that rang or reached the agent ended."""

    type: Literal["ended"] = "ended"
    linkedid: str
    outcome: CallOutcome | None
    talk_seconds: float | None
    ring_seconds: float | None
    wait_seconds: float | None
    hung_up_by: HungUpBy | None
    answered_by: str | None  # the extension that answered
    attempt_id: int | None
    at: IsoMoment | None


class PbxMessage(Pushed):
    """The PBX connection came up or went down (to everyone connected)."""

    type: Literal["pbx"] = "pbx"
    connected: bool
    at: IsoMoment


class StateMessage(Pushed, AgentStateOut):
    """The agent's own state changed (their choice, wrap-up, its end)."""

    type: Literal["state"] = "state"


class WallboardMessage(Pushed, WallboardOut):
    """A fresh wallboard snapshot, as `GET /api/wallboard` answers it (supervisors, admins)."""

    type: Literal["wallboard"] = "wallboard"


class WallboardAlertMessage(Pushed):
    """Wallboard thresholds just crossed, once per crossing (supervisors, admins watching)."""

    type: Literal["wallboard_alert"] = "wallboard_alert"
    server_time: IsoMoment
    alerts: list[WallboardAlert]  # as the snapshot of that moment shows each


class DeadlineMessage(Pushed):
    """A complaint's or repair's time limit is near or past (to those responsible)."""

    type: Literal["deadline"] = "deadline"
    kind: AlertSubject
    id: int
    step: str  # the complaint's step, or "arrival" for a repair
    state: Literal["due_soon", "overdue"]
    due_at: IsoMoment
    customer: str
    owner: str  # the department, or the crew


class QaFeedbackMessage(Pushed):
    """A QA feedback changed (web/qa_feedback.py): to the agent when it is sent or their
    dispute answered, to the reviewer when the agent acknowledges or disputes it."""

    type: Literal["qa_feedback"] = "qa_feedback"
    feedback_id: int
    call_id: int
    status: FeedbackStatus  # what just happened: sent, acknowledged, disputed, answered
    by: str  # who did it (their display name)


class CallbackReminderMessage(Pushed):
    """Time to make the call back the agent promised a customer ("稍后再打" at a time)."""

    type: Literal["callback_reminder"] = "callback_reminder"
    attempt_id: int  # the attempt that promised it
    task_id: int
    stage: Stage
    month: int
    call_back_at: IsoMoment
    customer_id: int
    customer_name: str
    contract_number: str


class PbxStatus(BaseModel):
    connected: bool | None  # None: this process has no way to the PBX


class HelloMessage(BaseModel):
    """The first message on every connection: where the sequence stands, who you are."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: Literal["hello"] = "hello"
    epoch: str  # the outbox's: a new one means the server restarted, the backlog is history
    last_seq: int
    server_time: IsoMoment
    resumed_from: int  # the `since` honoured (0: from the start of what is kept)
    user: UserOut
    state: AgentStateOut | None
    pbx: PbxStatus


PushedMessage = (
    PopMessage
    | AnsweredMessage
    | RingStoppedMessage
    | EndedMessage
    | PbxMessage
    | StateMessage
    | WallboardMessage
    | WallboardAlertMessage
    | DeadlineMessage
    | QaFeedbackMessage
    | CallbackReminderMessage
)
ServerMessage = Annotated[HelloMessage | PushedMessage, Field(discriminator="type")]
SERVER_MESSAGE: TypeAdapter[HelloMessage | PushedMessage] = TypeAdapter(ServerMessage)
PUSHED_MESSAGE: TypeAdapter[PushedMessage] = TypeAdapter(
    Annotated[PushedMessage, Field(discriminator="type")]
)
MESSAGE_MODELS: tuple[type[BaseModel], ...] = (
    HelloMessage,
    PopMessage,
    AnsweredMessage,
    RingStoppedMessage,
    EndedMessage,
    PbxMessage,
    StateMessage,
    WallboardMessage,
    WallboardAlertMessage,
    DeadlineMessage,
    QaFeedbackMessage,
    CallbackReminderMessage,
)


def schemas() -> dict[str, Any]:
    """The messages' JSON Schemas as OpenAPI components: `ServerMessage` (any of them, by
    `type`), each message model, and the models they are made of. Made by FastAPI's own
    generator, as if a route answered a message, so that a model both a route and a message
    use comes out the same in both."""
    router = APIRouter()
    router.add_api_route("/ws", _no_route, response_model=ServerMessage)
    document = get_openapi(title="messages", version="0", routes=router.routes)
    components: dict[str, Any] = document["components"]["schemas"]
    answer = document["paths"]["/ws"]["get"]["responses"]["200"]["content"]["application/json"]
    union = dict(answer["schema"])
    union["title"] = "ServerMessage"
    union["description"] = (
        "What the websocket GET /ws sends: one JSON object per frame, told apart by `type`; "
        "`hello` first, then the others, each numbered by `seq`. The socket's ends are close "
        "codes: 4401 the session ended, 1008 a frame out of place, 1009 one too big."
    )
    components["ServerMessage"] = union
    return components


async def _no_route() -> None:
    """Never served: only the shape of its answer is used (schemas())."""


def publish(app: FastAPI) -> None:
    """Put the messages' schemas into the app's OpenAPI document. A component the routes'
    answers already define must come out the same (the same model, seen the same way)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        known = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in schemas().items():
            if name in known and known[name] != schema:
                raise RuntimeError(f"two schemas named {name}: a route's answer and a message's")
            known[name] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]
