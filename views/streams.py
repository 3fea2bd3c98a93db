"""Streams: destinations (add, test, enable, remove), live figures, the preview and the recordings."""

from datetime import timedelta

import streamlit as st

from backend import ConfigError
from backend.destinations import PLATFORM_PRESETS, StreamConfig, StreamPlatform, StreamQuality
from backend.timeutil import resolve_zone
from backend.viewers import MAX_TIMEOUT_SECONDS, VIEWER_SOURCES, source_doc_from_form, source_fields
from dashboard import downloads
from dashboard.access import LOGIN_TO_CHANGE, can_control
from dashboard.runtime import get_supervisor
from dashboard.views import SOURCE_LABELS, destination_rows, recording_rows, source_field_view

supervisor = get_supervisor()
zone = resolve_zone(supervisor.get_config().timezone)
st.title("Streams")

# What the last action did, said where it was done (the page is long: the top may be out of view).
note = st.session_state.pop("streams_flash", None)


def done(kind: str, message: str, where: str) -> None:
    st.session_state["streams_flash"] = (where, kind, message)
    st.rerun()


def say(*places: str) -> None:
    """The note, once, if it was made in one of these places."""
    global note
    if note is not None and note[0] in places:
        (st.error if note[1] == "error" else st.success)(note[2])
        note = None


def viewer_source_form(chosen: str, kind: str, current: dict) -> None:
    """The chosen source's fields, filled with what is stored; saved as one."""
    with st.form(f"viewer_source_{chosen}_{kind}"):
        values = {}
        for field in source_fields(kind) if kind != "none" else []:
            value = current.get(field.name) if current.get("kind") == kind else None
            label, placeholder, hint = source_field_view(kind, field)
            if field.number:
                seconds = min(MAX_TIMEOUT_SECONDS, max(0.5, float(value or field.default)))
                values[field.name] = st.number_input(label, min_value=0.5, max_value=MAX_TIMEOUT_SECONDS, step=0.5,
                                                     value=seconds)
            else:
                values[field.name] = st.text_input(label, value=value or "", placeholder=placeholder, help=hint)
        if st.form_submit_button("Save viewer source" if kind != "none" else "Remove viewer source"):
            try:
                doc = source_doc_from_form(kind, values) if kind != "none" else None
                supervisor.set_viewer_source(chosen, doc)
            except ConfigError as exc:
                st.error(str(exc))
            else:
                st.success(("Viewer source saved: the count is read every 30 s" if doc  # beside the button
                            else "Viewer source removed: the count shows as unknown") + f"{SENT}.")


remote = supervisor.beside_owner  # the backend is another process
SENT = " (sent to the backend; it shows within a few seconds)" if remote else ""
if remote:
    st.info("The backend runs in another process (such as `python -m backend`): changes made here are sent to "
            "it and show within a few seconds, and the figures are its latest (every 5 s). Test and the "
            "preview work only in a dashboard that runs the backend itself.")
elif supervisor.broadcast is None:
    st.info("Streaming is off in this process (AI_COUNCIL_BROADCAST=off): the stored destinations are shown.")


@st.fragment(run_every=timedelta(seconds=3))
def live() -> None:
    left, right = st.columns([3, 2])
    with left:
        if supervisor.broadcast is not None:
            stats = supervisor.stream_statistics()
            c1, c2, c3 = st.columns(3)
            c1.metric("Live destinations", f"{stats['live_destinations']} of {stats['total_destinations']}")
            c2.metric("Average bitrate", f"{stats['average_bitrate_kbps']:.0f} kbps"
                      if stats["average_bitrate_kbps"] else "—")
            c3.metric("Viewers", "unknown" if stats["total_viewers"] is None else stats["total_viewers"])
            st.caption("On air while a debate runs; every debate is also recorded locally.")
    with right:
        picture = supervisor.preview_jpeg()
        if picture:
            st.image(picture, caption="Outgoing picture (refreshes every few seconds)")
        elif supervisor.broadcast is not None:
            st.caption("The preview shows the outgoing picture while a debate is on air.")
    rows = destination_rows(supervisor.stream_destinations())
    if rows.empty:
        st.caption("No destination yet: every debate is recorded locally. Add one below.")
    else:
        st.dataframe(rows.drop(columns=["Id"]), hide_index=True, width="stretch")


live()

st.subheader("Recordings")
if supervisor.broadcast is None and not remote:
    st.caption("Streaming is off in this process: no recordings here.")
else:
    recordings = supervisor.recordings()
    if not recordings:
        st.caption("No recording yet: each debate is recorded here as it is broadcast.")
    else:
        st.dataframe(recording_rows(recordings, zone), hide_index=True, width="stretch")
        pick = st.selectbox("Recording", [r.name for r in recordings], key="recording")
        url = downloads.link(supervisor.recording_path(pick))
        if url:  # server.py streams it from disk
            st.link_button("Download", url, help="Streamed from disk; the link is valid for 10 minutes.")
        else:  # streamlit run app.py: through the page, whole in memory
            st.download_button("Download", data=lambda: supervisor.recording_bytes(pick), file_name=pick,
                               mime="video/mp2t")

if not can_control():
    st.caption(LOGIN_TO_CHANGE)
    st.stop()

destinations = destination_rows(supervisor.stream_destinations())
if not destinations.empty and (supervisor.broadcast is not None or remote):
    labels = {row.Id: row.Name if row.Name == row.Platform else f"{row.Name} · {row.Platform}"
              for row in destinations.itertuples()}
    st.subheader("Manage a destination")
    chosen = st.selectbox("Destination", list(labels), format_func=labels.get, key="chosen_destination")
    b1, b2, b3, b4 = st.columns(4)
    test = b1.button("Test", width="stretch", disabled=remote, help="Runs in the backend's process" if remote else None)
    enable = b2.button("Enable", width="stretch")
    disable, remove = b3.button("Disable", width="stretch"), b4.button("Remove", width="stretch")
    try:
        if test:
            with st.spinner("Publishing a few seconds of test picture..."):
                ok, message = supervisor.test_destination(chosen)
            done("success" if ok else "error", message, "manage")
        elif enable or disable:
            supervisor.set_destination_enabled(chosen, bool(enable))
            done("success", f"{labels[chosen]} {'enabled' if enable else 'disabled'}{SENT}.", "manage")
        elif remove:
            supervisor.remove_destination(chosen)
            done("success", f"{labels[chosen]} removed, with its stored key{SENT}.", "manage")
    except ConfigError as exc:
        st.error(str(exc))
    say("manage")

    st.markdown("**Viewer count** of the chosen destination")
    current = supervisor.viewer_source(chosen) or {}
    shown = next(d for d in supervisor.stream_destinations() if d["destination_id"] == chosen)
    suggested = current.get("kind") or PLATFORM_PRESETS[StreamPlatform(shown["platform"])].viewer_source
    st.caption("Where the viewer count comes from; without one it is shown as unknown."
               + (f" Last reading: {shown['viewer_detail']}." if shown.get("viewer_detail") else ""))
    kinds = ["none", *VIEWER_SOURCES]
    kind = st.selectbox("Source", kinds, index=kinds.index(suggested) if suggested in kinds else 0,
                        format_func=lambda k: SOURCE_LABELS.get(k, k), key=f"viewer_kind_{chosen}")
    if kind == "none" and not current:
        st.caption("No viewer source: pick one above to have this destination's viewers counted.")
    else:
        viewer_source_form(chosen, kind, current)

say("add", "manage")  # a saved destination; or a removal whose section is gone with the last destination
st.subheader("Add a destination")
platforms = [p.value for p in StreamPlatform]
platform = StreamPlatform(st.selectbox("Platform", platforms, format_func=lambda v: PLATFORM_PRESETS[
    StreamPlatform(v)].label, key="new_platform"))
preset = PLATFORM_PRESETS[platform]
# A fresh set of widget keys after each save: the key typed in never lingers in the session.
form_round = st.session_state.setdefault("add_destination_round", 0)
with st.form(f"add_destination_{form_round}"):
    suffix = f"{platform.value}_{form_round}"
    name = st.text_input("Name", value=preset.label, key=f"new_name_{suffix}")
    url = st.text_input("Ingest URL", value=preset.ingest_url or "", key=f"new_url_{suffix}",
                        placeholder="rtmp://your-server.example/live")
    backup = st.text_input("Backup URL (optional)", value=preset.backup_url or "", key=f"new_backup_{suffix}")
    key = st.text_input("Stream key", type="password", key=f"new_key_{suffix}",
                        help=f"The key itself, or env:NAME / secret:NAME to read it from the environment or "
                             f"Streamlit secrets{f' (e.g. env:{preset.key_env})' if preset.key_env else ''}. "
                             f"It is kept in an owner-only key file and never shown again.")
    quality = st.selectbox("Quality", [q.value for q in StreamQuality], index=1, key=f"new_quality_{suffix}")
    enabled = st.checkbox("Enabled", value=True, key=f"new_enabled_{suffix}")
    if st.form_submit_button("Save destination", type="primary"):
        try:
            config = StreamConfig(platform=platform, stream_key=key, rtmp_url=url.strip() or None,
                                  backup_rtmp_url=backup.strip() or None, quality=StreamQuality(quality),
                                  enabled=enabled, name=name.strip())
            supervisor.save_destination(config)
        except ConfigError as exc:
            st.error(str(exc))
        else:
            for widget in [k for k in st.session_state if str(k).startswith("new_") and str(k).endswith(suffix)]:
                del st.session_state[widget]
            st.session_state["add_destination_round"] = form_round + 1
            done("success", f"{config.name or preset.label} saved ({config.display_url() or 'local'}){SENT}.", "add")
