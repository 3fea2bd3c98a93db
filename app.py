"""AI Council Automation dashboard: routes to the pages; the backend runs in this process."""

import streamlit as st

from dashboard.runtime import get_supervisor

st.set_page_config(page_title="AI Council Automation", page_icon=":material/podium:", layout="wide")
supervisor = get_supervisor()
with st.sidebar:
    if supervisor.role == "owner":
        st.caption(f":green[●] Backend running in this process · data: `{supervisor.data_dir.name}/`")
    else:
        st.caption(":orange[●] Another process runs the backend on this data directory; "
                   "this dashboard views it and queues your commands.")
navigation = st.navigation([
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/schedule.py", title="Schedule", icon=":material/calendar_month:"),
    st.Page("views/streams.py", title="Streams", icon=":material/cell_tower:"),
])
navigation.run()
