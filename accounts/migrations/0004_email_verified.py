import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_username_one_alphabet_case_insensitive'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('discounts', '0003_product_search'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='email_verified',
            field=models.BooleanField(default=False),
        ),
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('email'), condition=models.Q(('email_verified', True)), name='user_verified_email_unique', violation_error_message='That e-mail address belongs to another account.'),
        ),
    ]
