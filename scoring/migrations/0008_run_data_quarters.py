from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0007_run_lookup"),
    ]

    operations = [
        migrations.AddField(
            model_name="scoringrun",
            name="data_quarter",
            field=models.DateField(
                blank=True,
                help_text="First day of the latest quarter whose declarations the scores rest on",
                null=True,
                verbose_name="declarations up to the quarter",
            ),
        ),
        migrations.AddField(
            model_name="scoringrun",
            name="declared_shares",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Per quarter the features read: declarations, and employers of the sector active in it",
                verbose_name="declarations per quarter",
            ),
        ),
        migrations.AlterField(
            model_name="scoringrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("refused", "Refused"),
                ],
                default="queued",
                max_length=20,
                verbose_name="status",
            ),
        ),
    ]
