"""Settings: who hears of alerts (notifiers), when an alert fires, what the checks compare with, and
when to keep quiet (silences and maintenance windows)."""

from dataclasses import asdict, fields
from datetime import datetime, time, timedelta

import streamlit as st

from backend.alerting import AlertRule, MaintenanceWindow, Silence
from backend.checks import Thresholds
from backend.errors import CouncilError
from backend.health import AlertSeverity
from backend.notify import NotifierConfig
from backend.timeutil import resolve_zone, utc_now
from dashboard.access import LOGIN_TO_CHANGE, can_control
from dashboard.runtime import get_supervisor
from dashboard.settings_views import (ALL, THRESHOLD_LABELS, delivery_rows, hold_rows, known_components,
                                      notifier_id_for)

supervisor = get_supervisor()
st.title("Settings")
if not can_control():
    st.info(LOGIN_TO_CHANGE)
    st.stop()
zone = resolve_zone(supervisor.get_config().timezone)


def done(result: object, saved: str) -> None:
    """Say what happened: saved here, or queued for the process that owns the data directory."""
    st.session_state["settings_flash"] = saved if result is not None else "Queued for the owning process."
    st.rerun()


if flash := st.session_state.pop("settings_flash", None):
    st.success(flash)

notify_tab, rules_tab, quiet_tab = st.tabs(["Notifications", "Alert rules & thresholds",
                                            "Silences & maintenance"])

# ---- notifications -------------------------------------------------------------------------------

with notify_tab:
    st.caption("Alerts are sent through [apprise](https://github.com/caronc/apprise/wiki): Slack, Discord, "
               "Telegram, e-mail, generic webhooks (json://host/path) and many more. The URL holds the "
               "service's secret: it is stored in the data directory's notifiers.json (readable by its owner "
               "only) and shown masked.")
    notifiers = supervisor.notifier_rows() if supervisor.role == "owner" else []
    if supervisor.role != "owner":
        st.info("Notifiers are set up in the dashboard of the process that owns the data directory.")
    for row in notifiers:
        with st.container(border=True):
            cols = st.columns([5, 1, 1, 1])
            state = "on" if row["enabled"] else "off"
            cols[0].markdown(f"**{row['name']}** · `{row['url']}` · from {row['min_severity']} · {state}\n\n"
                             f"{row['last']}")
            if cols[1].button("Send test", key=f"test-{row['notifier_id']}"):
                delivery = supervisor.test_notifier(row["notifier_id"])
                st.session_state["settings_flash"] = None
                (st.success if delivery.ok else st.error)(f"{row['name']}: {delivery.detail}")
            if cols[2].button("Turn off" if row["enabled"] else "Turn on", key=f"toggle-{row['notifier_id']}"):
                done(supervisor.set_notifier_enabled(row["notifier_id"], not row["enabled"]), "Saved.")
            if cols[3].button("Remove", key=f"remove-{row['notifier_id']}"):
                done(supervisor.remove_notifier(row["notifier_id"]), f"Removed {row['name']}.")

    if supervisor.role == "owner":
        with st.form("add-notifier", clear_on_submit=True):
            st.markdown("**Add a notifier**")
            name = st.text_input("Name", placeholder="Ops Slack")
            url = st.text_input("apprise URL", type="password", placeholder="slack://TokenA/TokenB/TokenC/#channel")
            severity = st.selectbox("Send alerts from", [s.value for s in AlertSeverity], index=1,
                                    help="Alerts less severe than this are not sent; resolved notices follow "
                                         "the alerts that were sent.")
            if st.form_submit_button("Add notifier", type="primary"):
                try:
                    config = NotifierConfig(notifier_id_for(name, [r["notifier_id"] for r in notifiers]),
                                            name.strip(), min_severity=AlertSeverity(severity))
                    supervisor.save_notifier(config, url.strip())
                except CouncilError as exc:
                    st.error(f"Not added: {exc}")
                else:
                    done(True, f"Added {config.name}. Use Send test to check it.")

        deliveries = delivery_rows(supervisor.deliveries(), zone)
        st.markdown("**Recent deliveries**")
        if deliveries.empty:
            st.caption("Nothing sent yet.")
        else:
            st.dataframe(deliveries, hide_index=True, width="stretch")

# ---- rules and thresholds ------------------------------------------------------------------------

with rules_tab:
    rule = supervisor.alert_rule()
    with st.form("alert-rule"):
        st.markdown("**When an alert fires and ends**")
        cols = st.columns(2)
        fail = cols[0].number_input("Failed checks in a row before it fires", 1, 1000, rule.fail_threshold)
        recover = cols[1].number_input("Healthy checks in a row before it resolves", 1, 1000,
                                       rule.recover_threshold)
        window = cols[0].number_input("Flapping: look at the last N results", 2, 1000, rule.flap_window)
        changes = cols[1].number_input("Flapping: this many changes among them", 1, 999, rule.flap_changes)
        remind = st.number_input("Remind of an unacknowledged critical alert every (minutes)", 1, 43200,
                                 int(rule.reminder_seconds // 60))
        if st.form_submit_button("Save alert rules"):
            values = {"fail_threshold": int(fail), "recover_threshold": int(recover), "flap_window": int(window),
                      "flap_changes": int(changes), "reminder_seconds": float(remind) * 60}
            try:
                result = supervisor.set_alert_rule(values)
            except CouncilError as exc:
                st.error(f"Not saved: {exc}")
            else:
                done(result, "Alert rules saved; they apply from the next check.")

    thresholds = supervisor.thresholds()
    with st.form("thresholds"):
        st.markdown("**What the checks compare with**")
        cols = st.columns(2)
        entered = {}
        for index, item in enumerate(fields(Thresholds)):
            current = getattr(thresholds, item.name)
            label, unit = THRESHOLD_LABELS[item.name]
            entered[item.name] = cols[index % 2].number_input(
                f"{label} ({unit})", value=None if current is None else float(current), key=f"th-{item.name}",
                placeholder="not checked" if current is None else None, format="%g")
        if st.form_submit_button("Save thresholds"):
            try:
                result = supervisor.set_thresholds(entered)
            except CouncilError as exc:
                st.error(f"Not saved: {exc}")
            else:
                done(result, "Thresholds saved; the checks use them from the next round.")
    with st.form("api-urls"):
        st.markdown("**API endpoints to watch**")
        text = st.text_area("One http(s) URL per line", "\n".join(supervisor.api_urls()),
                            placeholder="http://localhost:11434/v1/models",
                            help="Each round GETs every URL: an answer of 400 or more, a timeout or a refusal is a "
                                 "failed check; a slow answer is degraded (thresholds above).")
        if st.form_submit_button("Save endpoints"):
            try:
                result = supervisor.set_api_urls([line.strip() for line in text.splitlines() if line.strip()])
            except CouncilError as exc:
                st.error(f"Not saved: {exc}")
            else:
                done(result, "Endpoints saved; the API check probes them from the next round.")
    if st.button("Back to the defaults"):
        try:
            supervisor.set_alert_rule(asdict(AlertRule()))
            done(supervisor.set_thresholds(asdict(Thresholds())), "Alert rules and thresholds are the defaults again.")
        except CouncilError as exc:
            st.error(str(exc))

# ---- silences and maintenance ----------------------------------------------------------------------

with quiet_tab:
    st.caption("A silence or a maintenance window holds notifications only: alerts still open and show on the "
               "Health page. A notice still true when the hold ends is sent then.")
    holds = hold_rows(supervisor.book.silences(), supervisor.book.maintenance_windows(), zone, utc_now())
    for row in holds:
        cols = st.columns([6, 1])
        cols[0].markdown(row["text"])
        if cols[1].button("Remove", key=f"hold-{row['id']}"):
            done(supervisor.remove_hold(row["id"]), "Removed.")
    if not holds:
        st.caption("No silence or maintenance window.")
    choices = [ALL, *known_components(supervisor)]

    with st.form("silence", clear_on_submit=True):
        st.markdown("**Silence alerts for a while**")
        cols = st.columns(3)
        component = cols[0].selectbox("Component", choices)
        hours = cols[1].selectbox("For", [1, 2, 4, 8, 24, 72], format_func=lambda h: f"{h} h")
        reason = cols[2].text_input("Reason", max_chars=200)
        if st.form_submit_button("Silence"):
            now = utc_now()
            try:
                silence = Silence(None if component == ALL else component, None, now, now + timedelta(hours=hours),
                                  reason)
                result = supervisor.add_silence(silence)
            except CouncilError as exc:
                st.error(f"Not saved: {exc}")
            else:
                done(result, f"Silenced {component} for {hours} h.")

    with st.form("maintenance", clear_on_submit=True):
        st.markdown("**Maintenance window**")
        cols = st.columns(3)
        component = cols[0].selectbox("Component", choices, key="mw-component")
        kind = cols[1].radio("Kind", ["Recurring", "Once"], horizontal=True)
        reason = cols[2].text_input("Reason", max_chars=200, key="mw-reason")
        cols = st.columns(3)
        cron = cols[0].text_input("Recurring: cron (minute hour day month weekday)", "0 3 * * 0",
                                  help="Times on the wall clock of " + zone.key)
        minutes = cols[1].number_input("Recurring: lasts (minutes)", 1, 1440, 60)
        day = cols[2].date_input("Once: day", value=utc_now().astimezone(zone).date())
        cols = st.columns(3)
        begin = cols[0].time_input("Once: from", time(2, 0))
        finish = cols[1].time_input("Once: until", time(4, 0))
        if st.form_submit_button("Add window"):
            target = None if component == ALL else component
            try:
                if kind == "Recurring":
                    window = MaintenanceWindow(component=target, cron=cron.strip(), duration_seconds=minutes * 60.0,
                                               timezone=zone.key, reason=reason)
                else:
                    window = MaintenanceWindow(component=target, start=datetime.combine(day, begin),
                                               end=datetime.combine(day, finish), timezone=zone.key, reason=reason)
                result = supervisor.add_maintenance(window)
            except CouncilError as exc:
                st.error(f"Not saved: {exc}")
            else:
                done(result, "Maintenance window added.")
