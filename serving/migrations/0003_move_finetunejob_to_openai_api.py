"""``FineTuneJob`` now belongs to ``openai_api`` (see ``openai_api.0001_initial``, which took over
its table): drop it from ``serving``'s migration state, touching no table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("serving", "0002_query_content"),
        ("openai_api", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="FineTuneJob")],
            database_operations=[],
        ),
    ]
