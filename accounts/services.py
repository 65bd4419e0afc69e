"""Verbs on projects, memberships and tokens. Each is atomic and writes its audit entry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import ApiToken, Membership, Project, hash_token
from accounts.roles import Action, Role, role_allows
from audit.services import Actor, record_event
from ops.errors import ActionDenied, StateConflict

TOKEN_PREFIX = "sob_"  # noqa: S105 (a public prefix, not a secret)


class PermissionDenied(ActionDenied):
    """The actor may not take this action on this object."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``raw`` is shown once and never stored."""

    token: ApiToken
    raw: str


def issue_api_token(
    actor: Actor,
    user: AbstractBaseUser,
    *,
    name: str = "api",
    scopes: list[str] | None = None,
    expires_in_days: int | None = 90,
) -> IssuedToken:
    """Create a bearer token for ``user``; only its SHA-256 is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=raw[:12],
            token_hash=hash_token(raw),
            scopes=scopes or ["read", "write"],
            expires_at=expires,
        )
        record_event(actor, "token.create", obj=token, details={"scopes": token.scopes})
    return IssuedToken(token=token, raw=raw)


def revoke_api_token(actor: Actor, token: ApiToken) -> None:
    """Revoke a token; later requests with it answer 401."""
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        record_event(actor, "token.revoke", obj=token)


def create_user(actor: Actor, username: str, *, email: str, password: str) -> AbstractBaseUser:
    """Create a user account (the caller has validated the name and password); audited as
    ``user.create`` in the same transaction."""
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=username, email=email, password=password
        )
        record_event(actor, "user.create", obj=user)
    return user


PROJECT_SETTINGS = ("require_distinct_approver", "auto_approve_redaction")


def create_project(
    actor: Actor,
    name: str,
    *,
    owner: AbstractBaseUser | None = None,
    settings: dict[str, bool] | None = None,
) -> Project:
    """Create a project; ``owner`` (default: the actor) becomes its first owner. ``settings``
    may set any of PROJECT_SETTINGS (others raise ValueError)."""
    owner = owner or actor.user
    settings = _checked_settings(settings or {})
    with transaction.atomic():
        project = Project.objects.create(name=name, **settings)
        if owner is not None:
            Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        record_event(actor, "project.create", obj=project)
    return project


def _checked_settings(changes: dict[str, Any]) -> dict[str, bool]:
    unknown = set(changes) - set(PROJECT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown project settings: {', '.join(sorted(unknown))}")
    return {name: bool(value) for name, value in changes.items()}


def update_project_settings(actor: Actor, project: Project, changes: dict[str, Any]) -> Project:
    """Change the project's separation-of-duties settings (owners only; platform admins too,
    as for members). Audited as ``project.settings`` with the values before and after."""
    if not (actor.user is not None and actor.user.is_superuser):
        require(actor, project.pk, Action.MANAGE_SETTINGS, obj=project)
    changes = _checked_settings(changes)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        before = {name: getattr(locked, name) for name in PROJECT_SETTINGS}
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=[*changes] or None)
        after = {name: getattr(locked, name) for name in PROJECT_SETTINGS}
        record_event(
            actor, "project.settings", obj=locked, details={"before": before, "after": after}
        )
    return locked


class MembershipRefused(ActionDenied):
    """Only platform administrators add people who are not yet members of a project (an
    owner learns nothing about who has an account, and nobody is added without an admin)."""


class LastOwner(StateConflict):
    """The change would leave the project without an owner (409)."""


NOT_A_MEMBER = (
    "Only platform administrators add people to a project; ask one to add this user. "
    "Owners change the roles of current members."
)


def set_membership(
    actor: Actor, project: Project, username: str, role: str, *, replace: bool = True
) -> Membership:
    """Give ``username`` ``role`` in ``project``; with ``replace`` their other roles there are
    removed (a role change), else the role is added. Audited.

    Owners change the roles of current members only: naming anyone else, whether the account
    exists or not, raises MembershipRefused with one message (no user enumeration). Platform
    admins may add any user (LookupError for an unknown one). Taking the owner role from the
    last owner raises LastOwner."""
    is_admin = actor.user is not None and actor.user.is_superuser
    user = get_user_model().objects.filter(username=username).first()
    if not is_admin and (
        user is None or not Membership.objects.filter(project=project, user=user).exists()
    ):
        raise MembershipRefused(NOT_A_MEMBER)
    if user is None:
        raise LookupError(f"No user named {username!r}.")
    Role(role)  # raises ValueError for an unknown role
    with transaction.atomic():
        _lock_memberships(project)
        existing = Membership.objects.filter(project=project, user=user)
        previous = sorted(existing.values_list("role", flat=True))
        if replace:
            existing.exclude(role=role).delete()
        membership, _ = Membership.objects.get_or_create(project=project, user=user, role=role)
        _require_an_owner(project)
        record_event(
            actor,
            "membership.change" if previous else "membership.create",
            obj=membership,
            details={"project": project.pk, "user": user.pk, "role": role, "previous": previous},
        )
    return membership


def remove_member(actor: Actor, project: Project, user_id: int) -> list[str]:
    """Remove every role of user ``user_id`` in ``project`` (owners and platform admins);
    returns the roles removed. LookupError when they are not a member, LastOwner when they
    are its last owner. Audited as ``membership.delete``."""
    if not (actor.user is not None and actor.user.is_superuser):
        require(actor, project.pk, Action.MANAGE_MEMBERS, obj=project)
    with transaction.atomic():
        _lock_memberships(project)
        rows = Membership.objects.filter(project=project, user_id=user_id)
        roles = sorted(rows.values_list("role", flat=True))
        if not roles:
            raise LookupError("No such member.")
        rows.delete()
        _require_an_owner(project)
        record_event(
            actor,
            "membership.delete",
            object_type="accounts.membership",
            object_id=str(user_id),
            details={"project": project.pk, "user": user_id, "roles": roles},
        )
    return roles


def _lock_memberships(project: Project) -> None:
    """Serialize membership changes of one project (two owners demoting each other at once
    must not both succeed)."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _require_an_owner(project: Project) -> None:
    """Raise LastOwner (rolling the transaction back) when no owner is left."""
    if not Membership.objects.filter(project=project, role=Role.OWNER).exists():
        raise LastOwner("A project needs at least one owner: make someone else owner first.")


def record_membership_refusal(actor: Actor, project: Project, verb: str, reason: str) -> None:
    """Audit a refused membership change as ``denied.membership_<verb>`` (the refused verb's
    own entry was rolled back with it)."""
    record_event(
        actor,
        f"denied.membership_{verb}",
        obj=project,
        outcome="denied",
        details={"reason": reason[:120]},
    )


def remove_membership(actor: Actor, membership: Membership) -> None:
    """Remove one membership row (one role), keeping at least one owner."""
    with transaction.atomic():
        _lock_memberships(membership.project)
        details = {"project": membership.project_id, "user": membership.user_id}
        record_event(actor, "membership.delete", obj=membership, details=details)
        membership.delete()
        _require_an_owner(membership.project)


@dataclass(frozen=True)
class ProjectAccess:
    """The roles a user holds in one project."""

    project_id: int
    roles: frozenset[str]

    def allows(self, action: Action) -> bool:
        return any(role_allows(role, action) for role in self.roles)

    @property
    def role(self) -> str:
        """The highest role, for display."""
        order = [Role.OWNER, Role.STEWARD, Role.ENGINEER, Role.VIEWER]
        return next(r.value for r in order if r.value in self.roles)


def membership_for(user: AbstractBaseUser | None, project_id: int) -> ProjectAccess | None:
    """The user's roles in the project, or None when they are not a member."""
    if user is None or not user.is_authenticated:
        return None
    roles = frozenset(
        Membership.objects.filter(user=user, project_id=project_id).values_list("role", flat=True)
    )
    return ProjectAccess(project_id, roles) if roles else None


def projects_visible_to(user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user is a member of (platform admins see all)."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def project_ids_allowing(user: AbstractBaseUser, action: Action) -> list[int]:
    """Ids of projects where the user's role allows ``action``. Admins are not special here:
    access to data follows membership, so a platform admin sees no raw text by default."""
    from accounts.roles import ROLE_ACTIONS

    if not user.is_authenticated:
        return []
    roles = [role.value for role, actions in ROLE_ACTIONS.items() if action in actions]
    rows = Membership.objects.filter(user=user, role__in=roles).values_list("project_id", flat=True)
    return sorted(set(rows))  # a user holding several roles in a project has several rows


def require(actor: Actor, project_id: int, action: Action, *, obj: object = None) -> ProjectAccess:
    """Return the actor's membership if it allows ``action``; else audit the denial and raise."""
    membership = membership_for(actor.user, project_id)
    if membership is None or not membership.allows(action):
        record_event(
            actor,
            f"denied.{action.value}",
            obj=obj,
            outcome="denied",
            details={"project": project_id},
        )
        raise PermissionDenied(action.value)
    return membership


def reauthenticate(request: Any, user: AbstractBaseUser, password: str) -> str:
    """Check ``password`` for ``user`` again through Django's ``authenticate``, so that the
    sign-in's lockout (django-axes, per username and address) counts and blocks it too: a
    re-check is no unthrottled password oracle. Returns ``"ok"``, ``"wrong"`` (counted as a
    failed sign-in, audited as ``auth.login`` denied) or ``"locked"`` (too many failures; the
    password was not even tried)."""
    from django.contrib.auth import authenticate

    username = user.get_username()
    authenticated = authenticate(request, username=username, password=password or "")
    if getattr(request, "axes_locked_out", False):
        # Answered by the caller in its own API's shape, not by axes' middleware page.
        del request.axes_locked_out
        return "locked"
    if authenticated is None or authenticated.pk != user.pk:
        return "wrong"
    return "ok"
