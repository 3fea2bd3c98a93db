"""Health: each component's status now and over time, uptime, check times, and the alerts."""

from datetime import timedelta
from typing import Callable
from zoneinfo import ZoneInfo

import altair as alt
import streamlit as st

from backend.errors import CouncilError
from backend.health import HealthStatus, worst
from backend.healthlog import beats, components
from backend.timeutil import from_iso, resolve_zone, utc_now
from dashboard.health_views import (SEVERITY_MARKDOWN, STATUS_COLOURS, STATUS_MARKDOWN, alert_rows,
                                    component_rows, response_frame, status_style, strip_frame)
from dashboard.access import can_control
from dashboard.runtime import get_supervisor
from dashboard.views import local_time

supervisor = get_supervisor()
STRIP = 60  # cells in the status strip
st.title("Health")


def since(text: str | None, zone: ZoneInfo) -> str:
    moment = from_iso(text)
    return local_time(moment, zone) if moment else "—"


def act(action: Callable[[str], bool | None], alert_id: str, done: str) -> None:
    """Acknowledge or resolve; a viewer process queues it for the owner."""
    try:
        result = action(alert_id)
    except CouncilError as exc:
        st.error(str(exc))
        return
    if result is False:
        st.warning("That alert is no longer open.")
        return
    st.toast(done if result else "Queued for the process that owns the data directory.")
    st.rerun()


@st.cache_data(ttl=60, show_spinner=False)
def month_of_samples(data_dir: str, minute: str) -> list[dict]:
    """Thirty days of the health series, read at most once a minute (the rollups keep it small)."""
    now = utc_now()
    return supervisor.health_samples(now - timedelta(days=30), now + timedelta(minutes=1))


@st.fragment(run_every=timedelta(seconds=10))
def status() -> None:
    now = utc_now()
    zone = resolve_zone(supervisor.get_config().timezone)
    samples = month_of_samples(str(supervisor.data_dir), f"{now:%Y%m%d%H%M}")
    recent = supervisor.health_samples(now - timedelta(minutes=10), now + timedelta(minutes=1))
    names = components(samples + recent)
    if not names:
        st.info("No health check has run yet. The checks run every "
                f"{supervisor.settings.monitoring_interval:g} s in the process that owns the data directory.")
        return
    latest = {name: (beats(recent, name, 1) or beats(samples, name, 1)) for name in names}
    overall = worst([found[0].status if found else HealthStatus.UNKNOWN for found in latest.values()])
    when = max((found[0].ts for found in latest.values() if found), default=None)
    st.markdown(f"### Overall: {STATUS_MARKDOWN[overall.value]}")
    st.caption(f"Last round {local_time(when, zone) if when else '—'} · checks every "
               f"{supervisor.settings.monitoring_interval:g} s")

    merged = samples + [row for row in recent if row["ts"] > (samples[-1]["ts"] if samples else "")]
    table = component_rows(merged, now, supervisor.latest_messages())
    st.dataframe(table.style.map(status_style, subset=["Status"]).format(precision=1), hide_index=True,
                 width="stretch", column_config={"Measured": st.column_config.TextColumn(width="large")})
    st.caption("Up means healthy or degraded; uptime is the share of rounds a component was up.")

    st.subheader("Status strip")
    strip = strip_frame(merged, zone, last=STRIP)
    scale = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
    chart = alt.Chart(strip).mark_rect(stroke="white", strokeWidth=1, cornerRadius=2).encode(
        x=alt.X("ago:O", title=f"the last {STRIP} rounds, newest on the right",
                scale=alt.Scale(domain=list(range(STRIP - 1, -1, -1))), axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("component:N", title=None),
        color=alt.Color("status:N", scale=scale, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["component", "time", "status", "message", "ms"],
    ).properties(height=alt.Step(22))
    st.altair_chart(chart, width="stretch")

    st.subheader("Check times (24 h)")
    times = response_frame(merged, now - timedelta(hours=24), zone)
    if not times.empty:
        st.altair_chart(alt.Chart(times).mark_line().encode(
            x=alt.X("time:T", title=None, axis=alt.Axis(format="%H:%M")), y=alt.Y("ms:Q", title="ms"),
            color=alt.Color("component:N", title=None),
            tooltip=["component", "time", "ms"]).properties(height=220), width="stretch")


status()

if supervisor.role == "owner" and can_control() and st.button("Run all checks now"):
    supervisor.run_health_checks()
    st.toast("Checks started; results show within seconds.")


@st.fragment(run_every=timedelta(seconds=5))
def alerts() -> None:
    zone = resolve_zone(supervisor.get_config().timezone)
    open_alerts = supervisor.alerts()
    st.subheader(f"Open alerts ({len(open_alerts)})")
    if not open_alerts:
        st.success("No open alerts.")
    for alert in open_alerts:
        severity = alert.get("severity", "warning")
        held = supervisor.book.held(alert["component"], alert.get("condition", ""))
        with st.container(border=True):
            cols = st.columns([5, 1.4, 1])
            cols[0].markdown(
                f"{SEVERITY_MARKDOWN.get(severity, severity)} · **{alert['component']}** · "
                f"seen {alert.get('count', 1)}× since {since(alert.get('first_seen'), zone)}"
                + (" · acknowledged" if alert.get("acknowledged") else "") + (f" · {held}" if held else "")
                + f"\n\n{alert.get('message', '')}")
            if not can_control():
                continue
            if not alert.get("acknowledged") and cols[1].button("Acknowledge", key=f"ack-{alert['alert_id']}"):
                act(supervisor.acknowledge_alert, alert["alert_id"], "Acknowledged: no more reminders.")
            if cols[2].button("Resolve", key=f"resolve-{alert['alert_id']}"):
                act(supervisor.resolve_alert, alert["alert_id"], "Resolved by hand.")
    with st.expander("Alert history"):
        history = alert_rows(supervisor.book.history(), zone)
        if history.empty:
            st.caption("No alert has fired yet.")
        else:
            st.dataframe(history.style.map(status_style, subset=["Severity"]), hide_index=True, width="stretch")


alerts()
