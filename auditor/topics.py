"""Topic keys: what each claim measures (placeholder until the taxonomy lands)."""


def assign_topics(page, claims) -> None:
    return None
