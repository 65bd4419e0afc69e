"""``FineTuneJob`` moves here from ``serving`` with its rows.

The model is created in the migration state only, on the table ``serving`` made for it; that
table is then renamed to ``openai_api_finetunejob`` and the model's content type moves with it
(so admin permissions follow). Audit entries written before keep their object type
``serving.finetunejob``: the audit trail is append-only. ``serving.0003`` removes the model from
``serving``'s state afterwards, touching no table.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

FINE_TUNE_STATUSES = [
    ("validating_files", "Validating Files"),
    ("submitted", "Submitted"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]


def move_content_type(apps, schema_editor, *, source="serving", target="openai_api"):
    """Relabel the model's content type (a fresh database has none yet: nothing to do)."""
    content_types = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not content_types.objects.using(db).filter(app_label=target, model="finetunejob").exists():
        content_types.objects.using(db).filter(app_label=source, model="finetunejob").update(
            app_label=target
        )


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="openai_api", target="serving")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("datasets_app", "0001_initial"),
        ("serving", "0002_query_content"),
        ("trainer", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="FineTuneJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("method", models.CharField(default="lora", max_length=16)),
                        ("method_type", models.CharField(default="supervised", max_length=16)),
                        ("requested_hyperparameters", models.JSONField(blank=True, default=dict)),
                        ("suffix", models.CharField(blank=True, max_length=64)),
                        ("seed", models.IntegerField(default=1234)),
                        (
                            "status",
                            models.CharField(
                                choices=FINE_TUNE_STATUSES,
                                default="validating_files",
                                max_length=16,
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("error_param", models.CharField(blank=True, max_length=64)),
                        (
                            "base_model",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to="trainer.basemodel",
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "deployment",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="serving.deployment",
                            ),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="fine_tunes",
                                to="accounts.project",
                            ),
                        ),
                        (
                            "training_file",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="datasets_app.dataset",
                            ),
                        ),
                        (
                            "training_job",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="fine_tune",
                                to="trainer.trainingjob",
                            ),
                        ),
                        (
                            "validation_file",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="datasets_app.dataset",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-created_at", "-id"],
                        "db_table": "serving_finetunejob",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="finetunejob", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
