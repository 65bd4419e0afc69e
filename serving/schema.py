"""OpenAPI description of the serving API's bearer authentication (drf-spectacular): deployment
keys and user API tokens (``serving.auth.InferenceAuthentication``)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class InferenceKeyScheme(OpenApiAuthenticationExtension):
    target_class = "serving.auth.InferenceAuthentication"
    name = "inferenceBearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A deployment key (sobk_...) or a user API token (sob_...).",
        }
