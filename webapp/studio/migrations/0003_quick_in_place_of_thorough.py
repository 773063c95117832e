"""The upload form's "thorough" box became the default fine-tuning (400 steps, 20 dreamed frames), and its "quick"
box asks for what the default was (125 steps, none): a stored submission was quick exactly when it was not
thorough."""
from django.db import migrations, models


def quick_from_thorough(apps, schema_editor):
    Submission = apps.get_model("studio", "Submission")
    Submission.objects.filter(thorough=False).update(quick=True)


def thorough_from_quick(apps, schema_editor):
    Submission = apps.get_model("studio", "Submission")
    Submission.objects.filter(quick=False).update(thorough=True)


class Migration(migrations.Migration):

    dependencies = [
        ("studio", "0002_thorough_and_snap_by_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="quick",
            field=models.BooleanField(default=False, help_text="quick fine-tuning (views.QUICK_FINETUNING)"),
        ),
        migrations.RunPython(quick_from_thorough, thorough_from_quick),
        migrations.RemoveField(
            model_name="submission",
            name="thorough",
        ),
    ]
