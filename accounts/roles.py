"""Roles and the actions each may take inside a project. Deny by default.

Owner: members, settings, deletion, everything below. Data steward: upload, review PII, approve
datasets; the only role that sees raw text. ML engineer: configure and launch jobs, sees redacted
data only, deploys models. Viewer: reads results.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    STEWARD = "steward"
    ENGINEER = "engineer"
    VIEWER = "viewer"


class Action(StrEnum):
    VIEW_PROJECT = "view_project"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_SETTINGS = "manage_settings"
    DELETE_PROJECT = "delete_project"
    UPLOAD_DATA = "upload_data"
    VIEW_RAW_DATA = "view_raw_data"
    REVIEW_PII = "review_pii"
    APPROVE_DATASET = "approve_dataset"
    DELETE_DATASET = "delete_dataset"
    VIEW_REDACTED_DATA = "view_redacted_data"
    LAUNCH_JOB = "launch_job"
    CANCEL_JOB = "cancel_job"
    VIEW_RESULTS = "view_results"
    DEPLOY_MODEL = "deploy_model"
    EXPORT_MODEL = "export_model"
    REIDENTIFY = "reidentify"
    READ_QUERY_CONTENT = "read_query_content"


_VIEWER = {Action.VIEW_PROJECT, Action.VIEW_RESULTS}
_ENGINEER = _VIEWER | {
    Action.VIEW_REDACTED_DATA,
    Action.LAUNCH_JOB,
    Action.CANCEL_JOB,
    Action.DEPLOY_MODEL,
}
_STEWARD = _VIEWER | {
    Action.UPLOAD_DATA,
    Action.VIEW_RAW_DATA,
    Action.REVIEW_PII,
    Action.APPROVE_DATASET,
    Action.VIEW_REDACTED_DATA,
    Action.DELETE_DATASET,
}
# Owners run the project but, like everyone but stewards, never see raw text: a user who
# needs both holds both roles (a membership per role).
_OWNER = _ENGINEER | {
    Action.MANAGE_MEMBERS,
    Action.MANAGE_SETTINGS,  # require_distinct_approver, auto_approve_redaction
    Action.DELETE_PROJECT,
    Action.DELETE_DATASET,
    Action.UPLOAD_DATA,
    Action.EXPORT_MODEL,
    Action.REIDENTIFY,  # the encrypted re-identification map, with an audited reason
    Action.READ_QUERY_CONTENT,  # logged prompts and answers of deployments, with a reason
}

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.ENGINEER: frozenset(_ENGINEER),
    Role.STEWARD: frozenset(_STEWARD),
    Role.OWNER: frozenset(_OWNER),
}

ROLE_CHOICES = [(role.value, role.value.replace("_", " ").title()) for role in Role]


def role_allows(role: str | None, action: Action) -> bool:
    """True when ``role`` (a Role value or None for no membership) may take ``action``."""
    if role is None:
        return False
    return action in ROLE_ACTIONS.get(Role(role), frozenset())
