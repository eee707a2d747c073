"""Footprints name the category by id (it survives a rename), no longer by slug."""

from django.db import migrations, models


def slugs_to_ids(apps, schema_editor):
    Category = apps.get_model("discounts", "Category")
    OutboxEvent = apps.get_model("realtime", "OutboxEvent")
    ids = dict(Category.objects.values_list("slug", "id"))
    for row in OutboxEvent.objects.only("id", "footprints").iterator(chunk_size=2000):
        footprints = [[lat, lng, ids.get(category, category)] for lat, lng, category in row.footprints]
        if footprints != row.footprints:
            OutboxEvent.objects.filter(pk=row.pk).update(footprints=footprints)


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0001_initial"),
        ("discounts", "0002_category_former_slugs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="outboxevent",
            name="footprints",
            field=models.JSONField(
                help_text="Where and what the deal was before and after the change: [[lat, lng, category_id], ...]."
            ),
        ),
        migrations.RunPython(slugs_to_ids, migrations.RunPython.noop),
    ]
