"""``manage.py register_base_model NAME PATH``: register a local Hugging Face model directory."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trainer.base_models import BaseModelError, register_base_model


class Command(BaseCommand):
    help = "Register a local Hugging Face causal LM directory (safetensors) as a base model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("path")
        parser.add_argument("--default", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = register_base_model(
                options["name"],
                Path(options["path"]).resolve(),
                source=options["path"],
                default=options["default"],
            )
        except BaseModelError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Registered {model.name} ({model.parameters:,} parameters).")
