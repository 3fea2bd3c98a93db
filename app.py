"""AI Council Automation dashboard: routes to the pages; the backend runs in this process."""

from datetime import timedelta

import streamlit as st

from backend.timeutil import to_iso, utc_now
from dashboard import access
from dashboard.health_views import SEVERITY_ICONS
from dashboard.runtime import get_supervisor, in_demo, leave_demo, remove_demo, start_demo

st.set_page_config(page_title="AI Council Automation", page_icon=":material/podium:", layout="wide")
supervisor = get_supervisor()
with st.sidebar:
    if supervisor.role == "owner":
        st.caption(f":green[●] Backend running in this process · data: `{supervisor.data_dir.name}/`")
    else:
        st.caption(":orange[●] Another process runs the backend on this data directory; "
                   "this dashboard views it and queues your commands.")
    access.sidebar()
access.require_view()  # stops here for a visitor who must log in first

with st.sidebar:
    if in_demo():
        st.warning("**DEMO DATA**: generated history for presentations, not real. The real backend keeps "
                   "running for everyone else.", icon=":material/theater_comedy:")
        left, right = st.columns(2)
        left.button("Leave demo", on_click=leave_demo)
        right.button("Remove demo data", on_click=remove_demo)
    elif access.can_control() and st.button("Demo mode", help="A month of generated history in a separate "
                                             "folder, and a debate on air at once; removable in one click."):
        with st.spinner("Generating a month of demo history…"):
            start_demo()
        st.rerun()
if in_demo():
    st.caption(":orange[**DEMO DATA** · generated, not real]")


@st.fragment(run_every=timedelta(seconds=5))
def alert_toasts() -> None:
    """Each alert notice (fired, worse, reminder, resolved) as a toast, once per browser session."""
    seen = st.session_state.setdefault("notices_seen", to_iso(utc_now()))
    for notice in supervisor.book.notices(since=seen)[-3:]:
        icon = ":material/check_circle:" if notice["kind"] == "resolved" else SEVERITY_ICONS[notice["severity"]]
        st.toast(notice["text"], icon=icon, duration="long")
        st.session_state["notices_seen"] = notice["ts"]


alert_toasts()
navigation = st.navigation([
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/schedule.py", title="Schedule", icon=":material/calendar_month:"),
    st.Page("views/streams.py", title="Streams", icon=":material/cell_tower:"),
    st.Page("views/analytics.py", title="Analytics", icon=":material/analytics:"),
    st.Page("views/health.py", title="Health", icon=":material/monitor_heart:"),
    st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
])
navigation.run()
