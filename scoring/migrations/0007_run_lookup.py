import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0006_score_size_form_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="RunLookup",
            fields=[
                (
                    "run",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="lookup",
                        serialize=False,
                        to="scoring.scoringrun",
                    ),
                ),
                ("first_employer", models.BigIntegerField()),
                ("packed", models.BinaryField()),
            ],
            options={
                "verbose_name": "run lookup",
            },
        ),
        # Read whole, often: no compression to undo on every read.
        migrations.RunSQL(
            "ALTER TABLE scoring_runlookup ALTER COLUMN packed SET STORAGE EXTERNAL",
            migrations.RunSQL.noop,
        ),
    ]
