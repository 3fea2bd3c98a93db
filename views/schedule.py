"""Schedule: the timeline, upcoming debates (cancel, run now, add), events and the settings form."""

from datetime import datetime, timedelta

import altair as alt
import streamlit as st

from backend import ConfigError, ScheduleType
from backend.timeutil import resolve_zone, utc_now
from dashboard.access import LOGIN_TO_CHANGE, can_control
from dashboard.runtime import get_supervisor
from dashboard.views import STATUS_COLOURS, timeline_frame, upcoming_rows

supervisor = get_supervisor()
config = supervisor.get_config()
zone = resolve_zone(config.timezone)
st.title("Schedule")


def act(action, success: str, ignored: str | None = None) -> None:
    """Run one backend command; on success re-draw the page with the message, on error show why.

    A command that the owner answers with None did nothing on purpose (``ignored`` says why); a
    viewer always gets None, because its command is queued for the owning process.
    """
    try:
        result = action()
    except ConfigError as exc:
        st.error(str(exc))
        return
    if supervisor.role != "owner":
        st.session_state["schedule_flash"] = ("success", success + " (queued for the backend process)")
    elif result is None and ignored:
        st.session_state["schedule_flash"] = ("warning", ignored)
    else:
        st.session_state["schedule_flash"] = ("success", success)
    st.rerun()


if flash := st.session_state.pop("schedule_flash", None):
    kind, message = flash
    (st.warning if kind == "warning" else st.success)(message)


@st.fragment(run_every=timedelta(seconds=5))
def timeline() -> None:
    now = utc_now()
    debates = [d for d in supervisor.debates() if now - timedelta(hours=24) <= d.due_time <= now + timedelta(hours=24)]
    frame = timeline_frame(debates, zone, now, timedelta(minutes=5))
    if frame.empty:
        st.info("Nothing ran in the last 24 hours and nothing is planned for the next 24.")
        return
    colours = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
    window = [(now + timedelta(hours=h)).astimezone(zone).replace(tzinfo=None).isoformat() for h in (-24, 24)]
    bars = alt.Chart(frame, height=140).mark_bar(height=22, cornerRadius=2).encode(
        x=alt.X("start:T", title=f"time ({zone.key})", scale=alt.Scale(domain=window)), x2="end:T",
        y=alt.Y("source:N", title=None), color=alt.Color("status:N", scale=colours),
        tooltip=["topic", "status", "source", "reason", alt.Tooltip("start:T", format="%a %H:%M")])
    rule = alt.Chart({"values": [{"now": now.astimezone(zone).replace(tzinfo=None).isoformat()}]}).mark_rule(
        color="red").encode(x="now:T")
    st.altair_chart(bars + rule, width="stretch")
    st.caption(f"Last 24 h and next 24 h · {config.schedule_type.value} schedule · red line: now")


timeline()

st.subheader("Upcoming")
upcoming = upcoming_rows(supervisor.debates(), zone)
if upcoming.empty:
    st.caption("No debate is planned.")
else:
    st.dataframe(upcoming.drop(columns=["Id"]), hide_index=True, width="stretch")
if not can_control():
    st.caption(LOGIN_TO_CHANGE)
    st.stop()
if not upcoming.empty:
    with st.form("cancel"):
        labels = {row.Id: f"{row.When} · {row.Topic}" for row in upcoming.itertuples()}
        chosen = st.selectbox("Debate", list(labels), format_func=labels.get)
        if st.form_submit_button("Cancel this debate"):
            act(lambda: supervisor.cancel(chosen), "Cancelled.")

left, right = st.columns(2)
with left, st.form("run_now", clear_on_submit=True):
    st.markdown("**Run a debate now**")
    topic = st.text_input("Topic (empty: the next topic from the rotation)", key="run_topic")
    if st.form_submit_button("Run now"):
        act(lambda: supervisor.run_now(topic or None), "Debate started (or queued after the one on air).")

with right, st.form("add", clear_on_submit=True):
    st.markdown("**Add a debate**")
    soon = utc_now().astimezone(zone) + timedelta(hours=1)
    day = st.date_input("Day", value=soon.date())
    at = st.time_input("Time", value=soon.time().replace(second=0, microsecond=0))
    add_topic = st.text_input("Topic", key="add_topic")
    if st.form_submit_button("Add"):
        when = datetime.combine(day, at).replace(tzinfo=zone)
        act(lambda: supervisor.schedule_debate(when, add_topic or None), f"Added for {when:%a %d %b %H:%M}.")

with st.form("event", clear_on_submit=True):
    st.markdown("**Trigger an event** — a topic from the news; high urgency runs at the next free moment, "
                "normal at the next good slot. A topic that ran or is planned recently is ignored.")
    event_topic = st.text_input("Event topic", key="event_topic")
    urgency = st.radio("Urgency", ["normal", "high"], horizontal=True)
    if st.form_submit_button("Trigger"):
        act(lambda: supervisor.trigger_event(event_topic, urgency), "Event accepted.",
            ignored=f"Event ignored: this topic ran or is planned within {config.duplicate_topic_hours} h.")

st.subheader("Schedule settings")
types = [t.value for t in ScheduleType]
with st.form("settings"):
    schedule_type = st.selectbox("Strategy", types, index=types.index(config.schedule_type.value))
    c1, c2, c3 = st.columns(3)
    interval = c1.number_input("Interval (minutes)", value=config.interval_minutes, step=1)
    cap = c2.number_input("Max debates per day", value=config.max_debates_per_day, step=1)
    gap = c3.number_input("Minimum gap (minutes)", value=config.min_interval_minutes, step=1)
    cron = st.text_input("Cron expression (cron strategy)", value=config.cron_expression or "",
                         placeholder="0 9-21/3 * * *")
    q1, q2, q3 = st.columns(3)
    quiet = q1.checkbox("Quiet hours", value=config.has_quiet_hours)
    quiet_start = q2.number_input("Quiet from (hour)", value=2 if config.quiet_hours_start is None else config.quiet_hours_start, step=1)
    quiet_end = q3.number_input("Quiet until (hour)", value=6 if config.quiet_hours_end is None else config.quiet_hours_end, step=1)
    tz = st.text_input("Time zone (IANA, empty: this machine's)", value=config.timezone or "")
    hours = st.multiselect("Adaptive prior hours", list(range(24)), default=list(config.adaptive_hours))
    r1, r2, r3 = st.columns(3)
    retries = r1.number_input("Retries after a failure", value=config.max_retries, step=1)
    retry_delay = r2.number_input("First retry after (s)", value=config.retry_delay_seconds, step=1)
    grace = r3.number_input("Run late within (s)", value=config.misfire_grace_seconds, step=1)
    if st.form_submit_button("Save settings", type="primary"):
        changes = {
            "schedule_type": schedule_type, "interval_minutes": int(interval), "max_debates_per_day": int(cap),
            "min_interval_minutes": int(gap), "cron_expression": cron.strip() or None,
            "quiet_hours_start": int(quiet_start) if quiet else None,
            "quiet_hours_end": int(quiet_end) if quiet else None,
            "timezone": tz.strip() or None, "adaptive_hours": hours, "max_retries": int(retries),
            "retry_delay_seconds": int(retry_delay), "misfire_grace_seconds": int(grace),
        }
        act(lambda: supervisor.update_config(changes), "Settings saved; upcoming planned debates re-planned.")
