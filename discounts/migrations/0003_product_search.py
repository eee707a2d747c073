"""Search by product text: pg_trgm for spelling variants, and a trigram index on the product."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("discounts", "0002_category_former_slugs")]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="discount",
            index=GinIndex(fields=["product"], opclasses=["gin_trgm_ops"], name="discount_product_trgm"),
        ),
    ]
