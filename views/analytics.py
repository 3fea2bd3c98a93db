"""Analytics: what ran, who watched, how the streams and the machine held up, what the schedule learned."""

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import altair as alt
import streamlit as st

from backend.errors import CouncilError
from backend.planning import explain_adaptive
from backend.timeutil import resolve_zone, utc_now
from dashboard.analytics_views import (PERIODS, WEEKDAYS, daily_quality, debate_points, debates_per_day, figure,
                                       heatmap, period, platform_rows, system_lines)
from dashboard.runtime import get_supervisor

supervisor = get_supervisor()
analytics = supervisor.analytics
st.title("Analytics")
config = supervisor.get_config()
zone = resolve_zone(config.timezone)

cols = st.columns([2, 2, 2])
choice = cols[0].segmented_control("Period", list(PERIODS), default="7 d", key="period")
custom = None
if choice == "Custom":
    today = utc_now().astimezone(zone).date()
    custom = cols[1].date_input("From / to", (today - timedelta(days=13), today), max_value=today, key="custom_range")
platform = cols[2].selectbox("Platform", ["All platforms", *st.session_state.get("platforms_seen", [])],
                            key="platform")
chosen_platform = None if platform == "All platforms" else platform
try:
    days, end = period(choice or "7 d", custom, utc_now(), zone)
except ValueError as exc:
    st.info(str(exc).capitalize() + ".")
    st.stop()


@st.cache_data(ttl=60, show_spinner="Reading the history…")
def figures(data_dir: str, days: int, end_key: str, platform: str | None, zone_key: str) -> dict:
    """Every figure of the page for one period, computed once a minute at most."""
    end_at = utc_now() if end_key == "now" else datetime.fromisoformat(end_key)
    found = analytics.get_period_data(days, platform=platform, end=end_at, zone=zone_key)
    found["rows"] = analytics.debate_rows(days, end=end_at, zone=zone_key) if days <= 31 else []
    found["topics"] = found["topics"][:25]
    return found


end_key = "now" if choice != "Custom" else end.isoformat()
data = figures(str(supervisor.data_dir), days, end_key, chosen_platform, zone.key)
debates, streaming, system = data["debates"], data["streaming"], data["system"]
seen = sorted(data["streaming_all"].get("platforms") or {})
if seen != st.session_state.get("platforms_seen"):  # the filter offers the platforms the period streamed to
    st.session_state["platforms_seen"] = seen
    st.rerun()

cards = st.columns(5)
cards[0].metric("Debates", debates["total_debates"], f"{debates['failed']} failed", delta_color="off",
                delta_arrow="off")
rate = debates["completion_rate"]
cards[1].metric("Completion rate", figure(None if rate is None else 100 * rate, " %", 1))
average = debates["avg_duration_seconds"]
cards[2].metric("Average length", figure(None if average is None else average / 60, " min", 1))
cards[3].metric("Peak viewers", figure(debates["peak_viewers"]), help="Summed over platforms; — when no "
                "viewer source measured any (add one on the Streams page).")
engagement = debates["avg_engagement"]
cards[4].metric("Engagement", figure(engagement, "", 2), help="0-1 from measured viewers against the channel's "
                "own baseline and how many stayed (docs/engagement.md); — when unknown.")

insights = data["insights"]
with st.container(border=True):
    colour = {"good": "green", "fair": "orange", "poor": "red"}.get(insights["health"], "gray")
    st.markdown(f"**Insights** · health :{colour}[{insights['health']}]")
    for line in insights["highlights"]:
        st.markdown(f"- {line}")
    for line in insights["recommendations"]:
        st.markdown(f"- :material/lightbulb: {line}")
    if not insights["highlights"] and not insights["recommendations"]:
        st.caption("Nothing to say yet: insights come from recorded debates, streams and system samples.")

debates_tab, streams_tab, system_tab, topics_tab, learning_tab, reports_tab = st.tabs(
    ["Debates", "Viewers & streams", "System", "Topics", "Schedule learning", "Reports"])

with debates_tab:
    per_day = debates_per_day(debates)
    if per_day.empty:
        st.caption("No debate in this period.")
    else:
        st.altair_chart(alt.Chart(per_day).mark_bar().encode(
            x=alt.X("yearmonthdate(day):T", title=None), y=alt.Y("debates:Q", title="debates"),
            color=alt.Color("outcome:N", scale=alt.Scale(domain=["completed", "failed", "interrupted"],
                                                        range=["#2e7d32", "#c62828", "#9e9e9e"]), title=None),
            tooltip=["day:T", "outcome", "debates"]).properties(height=220), width="stretch")
    points = debate_points(data["rows"], zone)
    if not points.empty:
        quality = daily_quality(points)
        shares = quality[quality["measure"].isin(["confidence", "consensus", "controversy"])]
        st.markdown("**Confidence, consensus and controversy per day** (0-1)")
        st.altair_chart(alt.Chart(shares).mark_line(point=True).encode(
            x=alt.X("yearmonthdate(day):T", title=None), y=alt.Y("value:Q", title=None, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("measure:N", title=None),
            tooltip=["day:T", "measure", alt.Tooltip("value:Q", format=".2f")]).properties(height=200),
            width="stretch")
        st.markdown("**Consensus and controversy**")
        st.altair_chart(alt.Chart(points.dropna(subset=["consensus", "controversy"])).mark_circle(size=60).encode(
            x=alt.X("controversy:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("consensus:Q", scale=alt.Scale(domain=[0, 1])), color="status:N",
            tooltip=["topic", "start:T", "consensus", "controversy", "minutes"]).properties(height=260),
            width="stretch")
    elif days > 31:
        st.caption("Per-debate charts show for periods up to 31 days; longer periods show daily totals.")
    cols = st.columns(4)
    cols[0].metric("Participants", figure(debates["avg_participants"], "", 1))
    cols[1].metric("Response length", figure(debates["avg_response_length"], " chars"))
    cols[2].metric("Confidence", figure(debates["avg_confidence"], "", 2))
    cols[3].metric("Consensus / controversy",
                   f"{figure(debates['avg_consensus'], '', 2)} / {figure(debates['avg_controversy'], '', 2)}")

with streams_tab:
    table = platform_rows(streaming)
    if table.empty:
        st.caption("No stream in this period" + (f" on {platform}" if chosen_platform else "") + ".")
    else:
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"Uptime %": st.column_config.NumberColumn(format="%.1f"),
                                    "Frame drops %": st.column_config.NumberColumn(format="%.2f"),
                                    "Sent MB": st.column_config.NumberColumn(format="%.1f"),
                                    "Avg kbps": st.column_config.NumberColumn(format="%.0f")})
        per_day = [row for row in streaming.get("per_day", []) if row.get("streams")]
        if per_day:
            st.altair_chart(alt.Chart(alt.Data(values=per_day)).mark_bar().encode(
                x=alt.X("date:T", title=None), y=alt.Y("bytes_sent:Q", title="bytes sent"),
                tooltip=["date:T", "streams:Q", "bytes_sent:Q", "peak_viewers:Q"]).properties(height=200),
                width="stretch")
    if streaming.get("peak_viewers") is None:
        st.info("Viewer counts are unknown: no destination has a viewer source that measured them. "
                "Add one (nginx-rtmp, MediaMTX, YouTube, Twitch) on the Streams page.")

with system_tab:
    hourly = system.get("hourly", [])
    usage = system_lines(hourly, zone, ["cpu_percent", "memory_percent", "disk_percent"])
    if usage.empty:
        st.caption("No system sample yet (one a minute from the backend process).")
    else:
        latest = system.get("latest") or {}
        cols = st.columns(4)
        cols[0].metric("CPU now", figure(latest.get("cpu_percent"), " %", 1),
                       f"avg {figure(system['avg_cpu_percent'], ' %', 1)}", delta_color="off", delta_arrow="off")
        cols[1].metric("Memory now", figure(latest.get("memory_percent"), " %", 1))
        cols[2].metric("Disk now", figure(latest.get("disk_percent"), " %", 1))
        cols[3].metric("On air now", f"{int(latest.get('active_streams') or 0)} streams")
        st.altair_chart(alt.Chart(usage).mark_line().encode(
            x=alt.X("time:T", title=None), y=alt.Y("value:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("measure:N", title=None),
            tooltip=["time:T", "measure", alt.Tooltip("value:Q", format=".1f")],
        ).properties(height=220), width="stretch")
        network = system_lines(hourly, zone, ["net_sent_bps", "net_recv_bps"])
        if not network.empty:
            network["value"] = network["value"] / 1e6
            st.altair_chart(alt.Chart(network).mark_line().encode(
                x=alt.X("time:T", title=None), y=alt.Y("value:Q", title="Mbit/s"),
                color=alt.Color("measure:N", title=None)).properties(height=180), width="stretch")
    if days > 30:
        st.caption("System figures cover the last 30 days of the period at most (hourly).")

with topics_tab:
    topics = data["topics"]
    if not topics:
        st.caption("No debate in this period.")
    else:
        st.dataframe(topics, hide_index=True, width="stretch",
                     column_order=["topic", "debates", "completed", "avg_engagement", "avg_consensus",
                                   "avg_controversy", "peak_viewers", "last_seen"])

with learning_tab:
    learned = supervisor.learned_engagement() if supervisor.role == "owner" else None
    picks = {weekday: explain_adaptive(learned, config, weekday) for weekday in range(7)}
    grid = heatmap(data["engagement"].get("by_hour_of_week", []), picks)
    st.caption(f"Average measured engagement per hour of the week ({zone.key}), over at least 28 days; "
               "outlined cells are the hours the ADAPTIVE strategy uses now.")
    base = alt.Chart(grid).encode(x=alt.X("hour:O", title="hour"), y=alt.Y("weekday:N", sort=list(WEEKDAYS),
                                                                          title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("engagement:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(orient="bottom", title="engagement")),
        tooltip=["weekday", "hour", "debates", alt.Tooltip("engagement:Q", format=".2f"), "pick", "why"])
    outline = base.transform_filter(alt.datum.pick != "").mark_rect(fill=None, strokeWidth=2).encode(
        stroke=alt.Stroke("pick:N", scale=alt.Scale(domain=["best", "explore", "prior"],
                                                    range=["#c62828", "#f9a825", "#616161"]),
                      legend=alt.Legend(orient="bottom", title="ADAPTIVE uses")))
    st.altair_chart((cells + outline).properties(height=230), width="stretch")
    if config.schedule_type.value != "adaptive":
        st.caption(f"The schedule uses the {config.schedule_type.value} strategy now; switch to adaptive on the "
                   "Schedule page to let engagement choose the hours.")
    today = utc_now().astimezone(zone).weekday()
    st.markdown(f"**{WEEKDAYS[today]}: why these hours**")
    for choice_made in picks[today]:
        st.markdown(f"- {choice_made.reason}")

with reports_tab:
    report_days = st.number_input("Days in the report", 1, 3650, min(max(days, 1), 365))
    if st.button("Prepare the report", type="primary"):
        try:
            with tempfile.TemporaryDirectory() as folder, st.spinner("Building the report…"):
                base_path = Path(folder) / f"ai-council-{utc_now():%Y%m%d}"
                made = {suffix: analytics.export_report(base_path.with_suffix(suffix), int(report_days), zone=zone.key)
                        for suffix in (".json", ".html", ".csv")}
                files = {}
                for made_paths in made.values():
                    for path in made_paths if isinstance(made_paths, list) else [made_paths]:
                        files[path.name] = path.read_bytes()
            st.session_state["report_files"] = files
        except CouncilError as exc:
            st.error(f"No report: {exc}")
    for name, payload in st.session_state.get("report_files", {}).items():
        mime = {"json": "application/json", "html": "text/html", "csv": "text/csv"}[name.rsplit(".", 1)[1]]
        st.download_button(f"Download {name}", payload, file_name=name, mime=mime, key=f"dl-{name}")
