"""Every channel-layer group name Dealcast uses comes from here."""


def cell_group(cell: str) -> str:
    """Shoppers whose area covers this H3 cell."""
    return f"cell.{cell}"
