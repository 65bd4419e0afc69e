"""Admin automation (users, projects, members) and personal API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.models import ApiToken, Membership, Project
from accounts.roles import ROLE_CHOICES, Action
from audit.services import actor_from_request, record_event
from ops.permissions import PlatformAdmin, TokenScopes
from ops.schema import error_responses


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(write_only=True)

    def validate(self, attrs: dict) -> dict:
        user_model = get_user_model()
        # Compare the name as it will be stored: create_user NFKC-normalizes it ("x²" is "x2").
        attrs["username"] = user_model.normalize_username(attrs["username"])
        if user_model.objects.filter(username=attrs["username"]).exists():
            raise ValidationError({"username": ["A user with that username exists."]})
        candidate = user_model(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except Exception as exc:  # django.core.exceptions.ValidationError
            raise ValidationError({"password": list(getattr(exc, "messages", [str(exc)]))}) from exc
        return attrs


class UserViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Platform admins create and list users."""

    serializer_class = UserSerializer
    lookup_value_converter = "int"
    permission_classes = [PlatformAdmin, TokenScopes]

    def get_queryset(self) -> QuerySet:
        return get_user_model().objects.order_by("username")

    def perform_create(self, serializer: UserSerializer) -> None:
        data = serializer.validated_data
        user = get_user_model().objects.create_user(
            username=data["username"], email=data.get("email", ""), password=data["password"]
        )
        record_event(actor_from_request(self.request), "user.create", obj=user)
        serializer.instance = user


class ProjectSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "created_at",
            "require_distinct_approver",
            "auto_approve_redaction",
            "my_role",
        ]
        read_only_fields = ["created_at"]

    def get_my_role(self, obj: Project) -> str | None:
        user = self.context["request"].user
        membership = services.membership_for(user, obj.pk)
        return membership.role if membership else None


class ProjectSettingsSerializer(serializers.Serializer):
    """The settings an owner may change; unknown fields are refused, not ignored."""

    require_distinct_approver = serializers.BooleanField(
        required=False, help_text="The approver of a dataset must not be its uploader."
    )
    auto_approve_redaction = serializers.BooleanField(
        required=False,
        help_text="Files uploaded through /v1/files are approved after automatic redaction.",
    )

    def validate(self, attrs: dict) -> dict:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise ValidationError({name: ["Not a project setting."] for name in sorted(unknown)})
        if not attrs:
            raise ValidationError({"non_field_errors": ["Name at least one setting."]})
        return attrs


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    add = serializers.BooleanField(
        required=False,
        default=False,
        write_only=True,
        help_text="Add this role instead of replacing the user's roles.",
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
    record_event(
        actor_from_request(request),
        f"denied.membership_{verb}",
        obj=project,
        outcome="denied",
        details={"reason": reason[:120]},
    )


class TokenSerializer(serializers.ModelSerializer):
    # Declared (not the model's JSONField, which accepts any JSON) so a body like
    # {"scopes": null} is a 400 naming the field, and the schema lists the scopes.
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiToken.SCOPE_CHOICES), required=False
    )
    expires_in_days = serializers.IntegerField(
        write_only=True, required=False, min_value=1, max_value=3650, default=90
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "expires_in_days",
        ]
        read_only_fields = ["prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]

    def validate_scopes(self, scopes: list[str]) -> list[str]:
        request = self.context["request"]
        if "admin" in scopes and not request.user.is_superuser:
            raise ValidationError("Only platform administrators may hold the admin scope.")
        caller = request.auth
        if caller is not None and hasattr(caller, "has_scope"):
            wider = [scope for scope in scopes if not caller.has_scope(scope)]
            if wider:
                raise ValidationError(f"A token cannot grant scopes it lacks: {', '.join(wider)}")
        return scopes


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
