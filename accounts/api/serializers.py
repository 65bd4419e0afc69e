"""Serializers of the accounts API: users, projects and their settings, members, tokens.

They validate; the viewsets in ``accounts.api.views`` authorize and call ``accounts.services``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from accounts import services
from accounts.models import ApiToken, Project
from accounts.roles import ROLE_CHOICES


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
