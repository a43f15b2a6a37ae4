"""The public face: each package's __all__ is pinned, sorted and importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "omnichannel": [
        "AsyncEngine", "Channel", "Commerce", "Consent", "ConsentStatus", "Converter", "Engine", "Event",
        "EventType", "FieldError", "FitError", "Identity", "IdentityKind", "LineItem", "Money", "OmnichannelError",
        "PluginError", "Profile", "RuleError", "StoreError", "TemplateError", "ValidationError",
        "converter"
    ],
    "omnichannel.models": [
        "Channel", "Commerce", "Consent", "ConsentStatus", "Event", "EventType", "Identity",
        "IdentityKind", "LineItem", "Money", "Profile",
    ],
    "omnichannel.ingest": [
        "ECOMMERCE_EVENTS", "LEGACY_NAMES", "MAX_BATCH_BYTES", "MAX_BATCH_MESSAGES",
        "MAX_MESSAGE_BYTES", "SegmentBatch", "TrafficSource", "UtmParameters", "canonical_event_name",
        "channel_group", "parse_segment", "parse_segment_batch", "source_categories",
        "traffic_source", "utm_from_url",
    ],
    "omnichannel.errors": [
        "FieldError", "FitError", "OmnichannelError", "PluginError", "RuleError", "StoreError",
        "TemplateError", "ValidationError"
    ],
    "omnichannel.personalization": [
        "ADDRESS_KINDS", "DEFAULT_COSTS", "PUSH_MAX_BYTES", "Aborted", "AdsAudience", "Campaign",
        "ChannelScore", "Choice", "CoOccurrence", "Decision", "Email", "InApp", "Limits", "Message",
        "Push", "Recommendation", "RenderSettings", "Rendered", "RenderedAds", "RenderedEmail",
        "RenderedInApp", "RenderedPush", "RenderedSms", "Sms", "Template", "Variant", "Webhook",
        "as_template_items", "baskets_from_events", "bucket", "can_reach", "compile_template", "decide",
        "learn_cooccurrence", "rank_channels", "render", "subject_from", "template_data"
    ],
    "omnichannel.channels": [
        "GROUP", "Adapter", "AdapterUrl", "Capabilities", "Content", "Envelope", "Outcome",
        "Receipt", "Registry", "check_adapter_class", "parse_adapter_url"
    ],
    "omnichannel.channels.sms": [
        "GSM7_BASIC", "GSM7_EXTENSION", "MAX_BODY_CHARS", "PART_LIMITS", "SINGLE_LIMITS", "Encoding",
        "SmsSegments", "encoding_of", "segments",
    ],
    "omnichannel.rules": [
        "ALWAYS", "DIALECTS", "NEVER", "Aggregate", "All", "Anniversary", "AnyOf", "Arith",
        "Between", "Case", "Compare", "Concat", "Const", "Constant", "EventAggregate", "EventCount",
        "EventFilter", "EventHistory", "Exists", "Expr", "Field", "FollowedBy", "IfElse",
        "InSegment", "LocalPart", "Not", "OneOf", "Predicate", "Recency", "Rule", "Schema", "Substr", "Text", "Truthy",
        "Value", "Window", "check_rule", "compile_rule", "days", "did", "did_not", "dump_rule",
        "field", "from_jsonlogic", "hours", "in_segment", "jsonlogic_apply", "load_rule", "local", "parse_rule",
        "prop", "state", "to_jsonlogic", "to_sql", "trait", "truthy", "when",
    ],
    "omnichannel.delivery": [
        "AUDIENCE_REMOVAL", "FEEDBACK_EVENTS", "HOOK_POINTS", "Action", "Cap", "Delivery",
        "Feedback", "Policy", "QuietHours", "RelayReport", "RetryPolicy", "SendRequest",
        "SendResult", "SentRecord", "TokenBucket", "Verdict", "audience_removals", "check_dispatch",
        "idempotency_key"
    ],
    "omnichannel.typing": ["JSONObject", "JSONValue"],
    "omnichannel.identity": [
        "DEFAULT_PRIORITY", "DEFAULT_SOURCES", "BulkResolution", "IdentityRules", "Key", "Link",
        "MergePolicy", "MergeRecord", "Resolution", "profile_id_for", "resolve", "resolve_bulk",
    ],
    "omnichannel.segments": [
        "LIFECYCLE_STAGES", "RFM_GRID", "RFM_GROUPS", "STATE_FIELDS", "Evaluation", "Preview",
        "RFMThresholds", "Reads", "Segment", "SegmentChange", "Segmentation", "Verdict",
        "batch_members", "channel_segments", "define_segments", "demographic_segments",
        "event_doc", "explain", "family_schema", "lifecycle_segments", "next_change",
        "observed_schema", "preview",
        "reads", "rfm_segments", "rfm_thresholds", "subject_events", "subject_of",
        "subject_schema", "subject_tables",
    ],
    "omnichannel.state": [
        "BUILT_IN", "Activity", "Cart", "CartLine", "ChannelActivity", "Consents", "LedgerEntry",
        "Loyalty", "Order", "Orders", "ProfileState", "Reducer", "advance", "build_profile",
        "canonical_key", "fold", "with_reducers",
    ],
    "omnichannel.engine": [
        "DEFAULT_PATH", "AsyncEngine", "Committing", "Engine", "EngineCore", "Erasure",
        "Explanation", "IngestResult", "Outbound", "Tick",
    ],
    "omnichannel.config": ["LIBRARY", "load_config", "read_rule"],
    "omnichannel.clock": ["Clock", "FixedClock", "SystemClock"],
    "omnichannel.store": [
        "OUTBOX_OPEN", "EnrollmentRow", "IdentityRow", "MemoryStore", "OutboxRow",
        "PostgresStore", "ProfileRow", "SQLiteStore", "Store", "Transaction", "is_postgres_url",
        "open_store",
    ],
    "omnichannel.journeys": [
        "DAY", "EXIT", "HOUR", "MINUTE", "OPEN", "Advance", "Branch", "Enrollment", "Exit",
        "HeldBack", "Journey", "JourneyRunner", "LastSend", "Left", "OnDate", "OnEvent",
        "OnSegment", "Path", "Replay", "Send", "SendCommand", "Situation", "Split", "Step",
        "StepRecord", "TickReport", "Trigger", "Update", "UpdateCommand", "Wait", "WaitFor",
        "WaitUntil", "WakeAt", "clicked_last", "enter", "may_enter", "next_date", "observe",
        "opened_last", "replay", "run",
    ],
    "omnichannel.journeys.library": [
        "abandoned_cart", "birthday", "in_store_cart", "journeys", "messages", "onboarding",
        "post_purchase", "win_back",
    ],
    "omnichannel.analytics": [
        "EVENT_COLUMNS", "FUNNEL_STEPS", "MESSAGE_CHANNELS", "SEND_EVENTS", "SOCIAL_EVENTS", "STAGES",
        "BetaGeo",
        "ExperimentResult", "Funnel", "GammaGamma", "JourneyMap", "Result", "acquisition",
        "assignments_from_enrollments", "attribution", "cart_abandonment", "cdnow_sample", "churn",
        "cohort_retention", "conversion_rates", "customer_lifetime_value", "event_table",
        "experiment", "funnel", "funnel_chart", "html_report", "journey_map", "kpi_suite", "order_kpis",
        "path_sankey", "retention_heatmap", "rfm_summary", "roi", "sessions", "social_engagement",
        "survey_scores", "touch_of", "traffic",
    ],
    "omnichannel.analytics.attribution": [
        "MODELS", "MarkovResult", "compare", "first_touch", "last_non_direct", "last_touch",
        "linear", "markov", "paths_from_touchpoints", "position_based", "shapley", "time_decay",
    ],
    "omnichannel.testing": [
        "SAMPLE_CHANNELS", "AdapterConformanceError", "channels", "check_adapter", "commerce",
        "consents", "events", "identities", "json_objects", "json_values", "line_items", "money",
        "profiles", "registry_check", "rule_subjects", "rule_values", "rules", "sample_envelopes",
        "segment_payloads", "timestamps", "verify_adapter"
    ],
}  # fmt: skip


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned_and_sorted(module_name):
    """__all__ lists exactly the pinned names, in isort order, and each one exists."""
    module = importlib.import_module(module_name)
    assert PUBLIC[module_name] == module.__all__
    assert sorted(module.__all__, key=_isort_style) == module.__all__
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_version_is_lazy_metadata():
    """__version__ comes from the installed distribution's metadata."""
    from importlib.metadata import version

    import omnichannel

    assert version("omnichannel") == omnichannel.__version__


def test_unknown_attribute_raises_attribute_error():
    """A misspelt name fails like any module attribute would."""
    import omnichannel

    with pytest.raises(AttributeError, match="no attribute 'Evnet'"):
        _ = omnichannel.Evnet
