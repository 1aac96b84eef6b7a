"""MusicOnHold, ConfBridge and ConfKick, as Asterisk 22.10.1's res_musiconhold and
app_confbridge run them for the agent console's call controls (asterisk-conf/ [cc-hold],
[cc-room], [cc-room-customer]).

MusicOnHold(class[,duration]) announces MusicOnHoldStart (with the class) and plays until
the duration, a hang-up or a Redirect; MusicOnHoldStop follows. ConfBridge(conference,
bridge_profile,user_profile,menu) answers the channel and puts it in the conference's mixing
bridge (ast_bridge_base_new: type `base`, technology `softmix`, creator `ConfBridge`, named
after the conference): BridgeCreate and ConfbridgeStart for the first user, then
ConfbridgeJoin and BridgeEnter; leaving is BridgeLeave and ConfbridgeLeave, the last one out
ConfbridgeEnd and BridgeDestroy. The user profiles of asterisk-conf/confbridge.conf decide
who leaves with whom: when the last `marked` user leaves, every `end_marked` user is kicked
(CONFBRIDGE_RESULT=ENDMARKED). ConfKick(conference[,all|participants|<channel>]) kicks users
(KICKED); CONFKICKSTATUS says whether it kicked anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from telephony.ami.vocabulary import ChannelState
from telephony.pbx_check.conf_files import SHIPPED_DIR, parse_sections
from telephony.pbx_sim.apps import HANGUP, App, AppContext
from telephony.pbx_sim.channels import Bridge, Channel, event
from telephony.pbx_sim.dialplan import split_args
from telephony.pbx_sim.pbx import Pbx

_TRUE = ("yes", "true", "y", "t", "1", "on")
DEFAULT_USER_PROFILE = "default_user"
KICKED, ENDMARKED, HANGUP_RESULT = "KICKED", "ENDMARKED", "HANGUP"


@dataclass(frozen=True)
class UserProfile:
    marked: bool = False
    end_marked: bool = False
    admin: bool = False


@cache
def user_profiles() -> dict[str, UserProfile]:
    """confbridge.conf's `type = user` sections as shipped (the built-in default_user has
    every option off)."""
    path = SHIPPED_DIR / "confbridge.conf"
    profiles = {DEFAULT_USER_PROFILE: UserProfile()}
    if not path.is_file():
        return profiles
    for section in parse_sections(path.read_text(encoding="utf-8"), path.name):
        options = dict(section.options)
        if options.get("type") != "user":
            continue

        def flag(name: str, options: dict[str, str] = options) -> bool:
            return options.get(name, "no").lower() in _TRUE

        profiles[section.name] = UserProfile(flag("marked"), flag("end_marked"), flag("admin"))
    return profiles


@dataclass(eq=False)
class RoomUser:
    channel: Channel
    profile: UserProfile
    kicked: str | None = None  # KICKED or ENDMARKED once removed by someone else


@dataclass(eq=False)
class Room:
    """One conference: its mixing bridge and its users in the order they joined."""

    name: str
    bridge: Bridge
    users: list[RoomUser] = field(default_factory=list)


def _rooms(pbx: Pbx) -> dict[str, Room]:
    return pbx.rooms


def room_of(pbx: Pbx, name: str) -> Room | None:
    return _rooms(pbx).get(name)


async def music_on_hold(ctx: AppContext, data: str) -> object:
    """MusicOnHold([class[,duration]])."""
    pbx, channel = ctx.pbx, ctx.channel
    args = split_args(data)
    music_class = args[0].strip() or "default"
    duration = args[1].strip() if len(args) > 1 else ""
    seconds = float(duration) if duration.replace(".", "", 1).isdigit() else None
    pbx.channel_event("MusicOnHoldStart", channel, [("Class", music_class)])
    clock = pbx.clock
    end = clock.now() + seconds if seconds else None
    while not channel.hung_up and channel.after_bridge is None:
        now = clock.now()
        if end is not None and now >= end:
            break
        await ctx.call.pause(end - now if end is not None else 3600.0)
    if not channel.destroyed:
        pbx.channel_event("MusicOnHoldStop", channel)
    return HANGUP if channel.hung_up else None


def _conference_event(name: str, room: Room, channel: Channel | None, extra: list) -> list:
    parts = [[("Conference", room.name)], room.bridge.fields()]
    if channel is not None:
        parts.append(channel.snapshot())
    return event(name, *parts, extra)


async def conf_bridge(ctx: AppContext, data: str) -> object:
    """ConfBridge(conference[,bridge_profile[,user_profile[,menu]]])."""
    pbx, channel = ctx.pbx, ctx.channel
    args = [*split_args(data), "", "", ""]
    name, profile_name = args[0].strip(), args[2].strip() or DEFAULT_USER_PROFILE
    profile = user_profiles().get(profile_name)
    if not name or profile is None:  # "Conference user profile %s does not exist"
        pbx.set_var(channel, "CONFBRIDGE_RESULT", "FAILED")
        return HANGUP
    if channel.state != ChannelState.UP:
        pbx.answer(channel)
    rooms = _rooms(pbx)
    room = rooms.get(name)
    if room is None:
        bridge = Bridge(kind="base", technology="softmix", creator="ConfBridge", name=name)
        room = rooms[name] = Room(name, bridge)
        pbx.emit(event("BridgeCreate", bridge.fields()))
        pbx.emit(_conference_event("ConfbridgeStart", room, None, []))
    user = RoomUser(channel, profile)
    admin = "Yes" if profile.admin else "No"
    joining = [("Admin", admin), ("Muted", "No")]
    pbx.emit(_conference_event("ConfbridgeJoin", room, channel, joining))
    room.users.append(user)
    room.bridge.members.append(channel)
    channel.bridge = room.bridge
    pbx.emit(event("BridgeEnter", room.bridge.fields(), channel.snapshot()))
    now = pbx.clock.now()
    if len(room.bridge.members) >= 2:
        for member in room.bridge.members:
            pbx.recorder.bridged(member, now)
    _wake(room)
    while not channel.hung_up and channel.after_bridge is None and user.kicked is None:
        await ctx.call.pause(3600.0)
    _leave(pbx, room, user)
    if channel.hung_up:
        pbx.set_var(channel, "CONFBRIDGE_RESULT", HANGUP_RESULT)
        return HANGUP
    if user.kicked is not None:
        pbx.set_var(channel, "CONFBRIDGE_RESULT", user.kicked)
    return None


def _leave(pbx: Pbx, room: Room, user: RoomUser) -> None:
    channel, bridge = user.channel, room.bridge
    room.users.remove(user)
    bridge.members.remove(channel)
    channel.bridge = None
    now = pbx.clock.now()
    pbx.emit(event("BridgeLeave", bridge.fields(), channel.snapshot()))
    admin = "Yes" if user.profile.admin else "No"
    pbx.emit(_conference_event("ConfbridgeLeave", room, channel, [("Admin", admin)]))
    pbx.recorder.unbridged(channel, now)
    if len(bridge.members) == 1:
        pbx.recorder.unbridged(bridge.members[0], now)
    if user.profile.marked and not any(u.profile.marked for u in room.users):
        for other in room.users:  # the last marked user left: end_marked users follow
            if other.profile.end_marked and other.kicked is None:
                other.kicked = ENDMARKED
    if not room.users:
        pbx.emit(_conference_event("ConfbridgeEnd", room, None, []))
        pbx.emit(event("BridgeDestroy", bridge.fields()))
        _rooms(pbx).pop(room.name, None)
    _wake(room)


def _wake(room: Room) -> None:
    for user in room.users:
        user.channel.notify()


async def conf_kick(ctx: AppContext, data: str) -> object:
    """ConfKick(conference[,channel]): `all` (the default), `participants` (not admins) or
    one channel's name."""
    pbx, channel = ctx.pbx, ctx.channel
    args = [*split_args(data), ""]
    name, which = args[0].strip(), args[1].strip() or "all"
    room = _rooms(pbx).get(name)
    kicked = 0
    for user in list(room.users) if room is not None else []:
        chosen = (
            which == "all"
            or (which == "participants" and not user.profile.admin)
            or which == user.channel.name
        )
        if chosen and user.kicked is None:
            user.kicked = KICKED
            kicked += 1
    if room is not None:
        _wake(room)
    pbx.set_var(channel, "CONFKICKSTATUS", "SUCCESS" if kicked else "FAILURE")
    return None


ROOM_APPS: dict[str, App] = {
    "musiconhold": music_on_hold,
    "confbridge": conf_bridge,
    "confkick": conf_kick,
}
