"""Admin automation (users, projects, members) and personal API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api.serializers import (
    MemberSerializer,
    ProjectSerializer,
    ProjectSettingsSerializer,
    TokenSerializer,
    UserSerializer,
)
from accounts.models import ApiToken, Membership, Project
from accounts.roles import Action
from audit.services import actor_from_request
from ops.permissions import PlatformAdmin, TokenScopes
from ops.schema import error_responses


class UserViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Platform admins create and list users."""

    serializer_class = UserSerializer
    lookup_value_converter = "int"
    permission_classes = [PlatformAdmin, TokenScopes]

    def get_queryset(self) -> QuerySet:
        return get_user_model().objects.order_by("username")

    def perform_create(self, serializer: UserSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_user(
            actor_from_request(self.request),
            data["username"],
            email=data.get("email", ""),
            password=data["password"],
        )


class ProjectViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Members see their projects; platform admins create projects; owners manage members."""

    serializer_class = ProjectSerializer
    lookup_value_converter = "int"

    def get_permissions(self) -> list:
        if self.action == "create":
            return [PlatformAdmin(), TokenScopes()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Project]:
        return services.projects_visible_to(self.request.user)

    def perform_create(self, serializer: ProjectSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.create_project(
            actor_from_request(self.request),
            data["name"],
            settings={k: data[k] for k in services.PROJECT_SETTINGS if k in data},
        )

    @extend_schema(
        request=ProjectSettingsSerializer,
        responses={200: ProjectSerializer},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Owners (and platform admins) change the project's settings. Audited."""
        project = self.get_object()
        form = ProjectSettingsSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        project = services.update_project_settings(
            actor_from_request(request), project, dict(form.validated_data)
        )
        return Response(ProjectSerializer(project, context={"request": request}).data)

    @extend_schema(methods=["GET"], responses=MemberSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=MemberSerializer,
        responses={201: MemberSerializer(many=True), **error_responses(409)},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)  # all members, one list
    def members(self, request: Request, pk: str | None = None) -> Response:
        project = self.get_object()
        if request.method == "POST":
            self._require_member_admin(request, project)
            form = MemberSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            try:
                services.set_membership(
                    actor_from_request(request),
                    project,
                    form.validated_data["user"]["username"],
                    form.validated_data["role"],
                    replace=not form.validated_data["add"],
                )
            except services.MembershipRefused as exc:
                _audit_refusal(request, project, "add", str(exc))
                raise PermissionDenied(str(exc)) from exc
            except services.LastOwner:
                _audit_refusal(request, project, "change", "last owner")
                raise
            except LookupError as exc:
                raise ValidationError({"username": [str(exc)]}) from exc
        members = Membership.objects.filter(project=project).select_related("user")
        code = status.HTTP_201_CREATED if request.method == "POST" else status.HTTP_200_OK
        return Response(MemberSerializer(members, many=True).data, status=code)

    @extend_schema(
        parameters=[OpenApiParameter("user_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={204: None, **error_responses(409)},
    )
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>\d+)")
    def remove_member(self, request: Request, pk: str | None = None, user_id: str = "") -> Response:
        """Remove every role of a member (owners and platform admins); the last owner stays.
        Audited."""
        project = self.get_object()
        try:
            services.remove_member(actor_from_request(request), project, int(user_id))
        except services.LastOwner:
            _audit_refusal(request, project, "remove", "last owner")
            raise
        except LookupError as exc:
            raise NotFound(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _require_member_admin(self, request: Request, project: Project) -> None:
        if request.user.is_superuser:
            return
        services.require(
            actor_from_request(request), project.pk, Action.MANAGE_MEMBERS, obj=project
        )


def _audit_refusal(request: Request, project: Project, verb: str, reason: str) -> None:
    """Record a refused membership change (the service's own entry was rolled back)."""
    services.record_membership_refusal(actor_from_request(request), project, verb, reason)


class TokenViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A user's own tokens. The raw token appears once, in the creation response."""

    serializer_class = TokenSerializer
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[ApiToken]:
        if not self.request.user.is_authenticated:  # schema generation
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at")

    def create(self, request: Request) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = services.issue_api_token(
            actor_from_request(request),
            request.user,
            name=form.validated_data.get("name", "api"),
            scopes=form.validated_data.get("scopes") or ["read", "write"],
            expires_in_days=form.validated_data["expires_in_days"],
        )
        body = TokenSerializer(issued.token, context={"request": request}).data
        return Response({**body, "token": issued.raw}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        services.revoke_api_token(actor_from_request(self.request), instance)
