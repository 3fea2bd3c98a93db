"""Overview: what runs now (with its live transcript), what comes next, what ran."""

from datetime import timedelta

import streamlit as st

from backend import DebateStatus
from backend.timeutil import resolve_zone, utc_now
from dashboard.runtime import get_supervisor
from dashboard.views import countdown, local_time, recent_rows

supervisor = get_supervisor()
st.title("AI Council Automation")


@st.fragment(run_every=timedelta(seconds=2))
def live() -> None:
    debates = supervisor.debates()
    zone = resolve_zone(supervisor.get_config().timezone)
    stats = supervisor.statistics()
    running = next((d for d in debates if d.status is DebateStatus.RUNNING), None)
    upcoming = min((d for d in debates if d.status is DebateStatus.PENDING), key=lambda d: d.due_time, default=None)

    cols = st.columns(4)
    if upcoming:
        cols[0].metric("Next debate", countdown((upcoming.due_time - utc_now()).total_seconds()),
                       local_time(upcoming.due_time, zone), delta_color="off")
    else:
        cols[0].metric("Next debate", "none planned")
    cols[1].metric("Completed", stats["completed"])
    cols[2].metric("Failed", stats["failed"])
    cols[3].metric("Success rate", f"{stats['success_rate']:.1f} %" if stats["completed"] + stats["failed"] else "—")
    if upcoming:
        st.caption(f"Next: **{upcoming.topic}** — {upcoming.reason}")

    st.subheader("On air")
    if running is None:
        st.info("No debate is running right now.")
    else:
        st.markdown(f"**{running.topic}** · started {local_time(running.actual_start_time, zone)} · "
                    f"{running.turns} turns so far")
        for turn in supervisor.transcript(running.debate_id)[-8:]:
            with st.chat_message("user" if turn.stance == "for" else "assistant"):
                st.markdown(f"**{turn.speaker}** · round {turn.round} · {turn.stance} "
                            f"({turn.confidence:.0%})\n\n{turn.text}")

    st.subheader("Recent results")
    rows = recent_rows(debates, zone)
    if rows.empty:
        st.caption("No debate has finished yet.")
    else:
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"Consensus": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)})


live()

alerts = [a for a in supervisor.alerts() if not a.get("resolved")]
if alerts:
    st.subheader("Open alerts")
    for alert in alerts:
        st.error(f"**{alert['component']}** · {alert['severity']} · seen {alert['count']}×: {alert['message']}")
    st.page_link("views/health.py", label="Acknowledge or resolve on the Health page", icon=":material/monitor_heart:")
