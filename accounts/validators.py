"""What a username may be, beyond Django's letters, digits and @.+-_."""

from __future__ import annotations

from confusable_homoglyphs import confusables
from django.core.exceptions import ValidationError


def validate_username_not_confusable(value: str) -> None:
    """Refuse a username that mixes scripts with look-alike letters ("shоpper" with a Cyrillic "о").

    Case and compatibility forms are folded by the user model (NFKC, and a case-insensitive unique
    constraint); a mixed-script look-alike is the rest of what lets one account pose as another.
    """
    if confusables.is_dangerous(value):
        raise ValidationError(
            "This username mixes alphabets with letters that look alike (such as a Cyrillic “о” among "
            "Latin letters). Use letters of one alphabet.",
            code="confusable",
        )
