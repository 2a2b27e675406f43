"""Names that only a framework or a library reads, for vulture (`make lint`): it cannot see those callers.

Flask routes, hooks and click commands are skipped by decorator (pyproject.toml [tool.vulture] ignore_decorators),
the ORM models (*/models.py) declare the schema that the SQL constants and alembic read, and migrations/ are
called by alembic; everything else a framework calls is named here, each with who calls it. A name that is truly
unused belongs deleted, not here.
"""
# The bare names and attributes below are usages vulture counts; `_` stands for any object (ruff: see pyproject).
# An attribute of a class imported here is checked to exist by tests/test_vulture_whitelist.py (a pydantic
# model's: to be one of its fields), so that those entries stay true when a field is renamed or deleted.

from campaigns.callouts import take_replies
from campaigns.schemas import (
    Callout,
    CalloutMemberState,
    CalloutTimeline,
    Campaign,
    CampaignPreview,
    ReplyTally,
    TimeToWarnDetails,
)
from subscribers.schemas import CodeSent
from syrena_core.config import Settings, SimulatorSettings, _Environment

# Flask-Login reads these off the LoginManager and the user object (app/auth.py, syrena_core/accounts.py).
_.login_view
_.session_protection
_.is_anonymous
_.is_active
# Flask reads session.permanent; g._metrics_started is read back with g.get("_metrics_started") (app/health.py).
_.permanent
_._metrics_started
# A config key kept so that older config files still load (syrena_core/config.py, [[smsc]] weight).
_.weight
# openpyxl and fpdf read the cell and document attributes we set (billing/exports.py).
_.font
_.number_format
# werkzeug writes the Last-Modified header when a response's last_modified is set (app/public_cache.py).
_.last_modified
# logging.Formatter.converter is called by the logging module (syrena_core/logging.py).
_.converter
# asyncio.Protocol and http.server callbacks (smsc_simulator/server.py).
_.connection_made
_.connection_lost
_.data_received
_.daemon_threads
_.do_GET
_.do_POST
_.do_DELETE
_.log_message
# A typing.Protocol's call signature (smsc_gateway/interface.py ReceiptSink, MoSink): calling the object calls it.
_.__call__
# SQLAlchemy columns and the mapped class of the accounts tables, which live in syrena_core/accounts.py rather
# than a models.py: read and written by SQL and by the ORM.
_.failed_logins
_.revoked_at
_.last_failure_at
_.blocked_until
LoginThrottle
# scripts/run.sh checks the stored admin password with it (python in a heredoc, unseen by vulture).
authenticate
# schemathesis calls a state machine's hooks (tests/security/test_openapi.py).
_.before_call
_.get_call_kwargs
_.additional_checks
# pydantic's fields are read by pydantic, not as attributes. The answers' models document what the API builds
# as dicts (the OpenAPI document; schemathesis checks every answer against them):
CodeSent.expires_in
TimeToWarnDetails.parts_to_send
TimeToWarnDetails.links_role
TimeToWarnDetails.links_assumed
CampaignPreview.time_to_warn_s
Campaign.time_to_warn_s
Campaign.editor_ids
Campaign.rate_now
ReplyTally.unrecognised  # the replies' tally (GET /api/v1/campaigns/{id}/replies), built in campaigns/questions.py
Campaign.template_unchanged
Campaign.template_preapproved
CalloutMemberState.declined_at  # a call-out's board (GET /api/v1/callouts/{id}), built in campaigns/callouts.py
CalloutTimeline.first_confirmation_at
CalloutTimeline.last_confirmation_at
Callout.first_confirmation_at
Callout.last_confirmation_at
# The MO batch handler calls its branches by dotted path (subscribers.jobs.INBOUND_BRANCHES): subscribers may not
# import campaigns.
take_replies
# [simulator] keys that smsc_simulator's SimulatorOptions.from_settings copies by name (getattr over its fields):
SimulatorSettings.receipt_delay_max
SimulatorSettings.delivered_ratio
SimulatorSettings.expired_ratio
SimulatorSettings.receipt_form
SimulatorSettings.error_ratio
SimulatorSettings.throttle_ratio
SimulatorSettings.disconnect_ratio
SimulatorSettings.deliver_window
# pydantic-settings' hooks: it calls the source's _load_env_vars and the settings' settings_customise_sources,
# which it passes every source by keyword (so the unused ones keep their names).
_Environment._load_env_vars
Settings.settings_customise_sources
env_settings
dotenv_settings
file_secret_settings
# Issue 17 (registry import): Werkzeug reads the request's own body limit; Flask calls a blueprint's
# record_once hooks at registration; an import's end time is kept for the record (audit, support).
_.max_content_length
_allow_large_uploads
_.finished_at
# Issue 16 (timing report): the month's measures are read by name (campaigns.timeline.MONTH_MEASURES, getattr)
# and by the finance page's template (app/templates/finance/_alert_times.html).
_.to_approve
_.to_first_submit
_.to_90
_.worst_campaign_id
# Issue 16 (feeds): a source's status columns, written by feeds.service and shown by templates/feeds/list.html
# (Jinja, unseen by vulture); a follow-up's link to the alert it updates or cancels, kept for the record.
_.alerts_new
_.documents_refused
_.last_duration_ms
_.last_ok_at
_.last_error_at
_.follows_id
# g.api_role is read back with g.get("api_role") (app/api/reports.py); a report reply's sms_error is shown by
# app/templates/reports/detail.html.
_.api_role
_.sms_error
# Issue 16 (hazard templates): who archived a template is kept for the record (audit, support); the campaign's
# template version is written by campaigns.templates.link and read through its relationship.
_.archived_by
_.template_version_id
